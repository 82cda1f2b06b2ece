"""Training: recipes, the trainer, schedules, checkpoints.

The package itself is callable: ``lumos.train(recipe)`` runs :func:`lumos.train.run.train`.
"""

from lumos.callable_module import make_callable
from lumos.recipe import Recipe, RecipeError
from lumos.train.run import train
from lumos.train.trainer import Trainer, TrainError

__all__ = ["Recipe", "RecipeError", "TrainError", "Trainer", "train"]

make_callable(__name__, train)
