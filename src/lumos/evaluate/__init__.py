"""Evaluation: metrics of a bundle on a dataset split, reports as CSV, JSON and PNG.

The package is callable: ``lumos.evaluate(model, dataset, split)`` runs
:func:`lumos.evaluate.run.run_evaluation`.
"""

from lumos.callable_module import make_callable
from lumos.evaluate.classification import ClassificationReport, evaluate
from lumos.evaluate.detection import coco_metrics
from lumos.evaluate.run import run_evaluation
from lumos.evaluate.segmentation import mask_confusion, segmentation_metrics

__all__ = [
    "ClassificationReport",
    "coco_metrics",
    "evaluate",
    "mask_confusion",
    "run_evaluation",
    "segmentation_metrics",
]

make_callable(__name__, run_evaluation)
