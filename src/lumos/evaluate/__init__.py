"""Evaluation: metrics of a bundle on a dataset split, reports as CSV, JSON and PNG.

The package is callable: ``lumos.evaluate(model, dataset, split)`` runs
:func:`lumos.evaluate.run.run_evaluation`.
"""

from lumos.callable_module import make_callable
from lumos.evaluate.classification import ClassificationReport, evaluate
from lumos.evaluate.run import run_evaluation

__all__ = ["ClassificationReport", "evaluate", "run_evaluation"]

make_callable(__name__, run_evaluation)
