"""Training: recipes, the trainer, schedules, checkpoints.

The package itself is callable, so ``lumos.train(recipe)`` runs :func:`lumos.train.run.train`.
"""

import sys
from types import ModuleType
from typing import Any

from lumos.train.recipe import Recipe, RecipeError
from lumos.train.run import train
from lumos.train.trainer import Trainer, TrainError

__all__ = ["Recipe", "RecipeError", "TrainError", "Trainer", "train"]


class _CallableModule(ModuleType):
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return train(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
