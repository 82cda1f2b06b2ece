"""Evaluation: a bundle scored on a dataset split as a job, its report as CSV, JSON and PNG.

The package is callable: ``lumos.evaluate(model, dataset, split)`` runs
:func:`lumos.evaluate.run.run_evaluation`; each task scores its own kind of model
(:meth:`lumos.tasks.base.Task.evaluate`).
"""

from lumos.callable_module import make_callable
from lumos.evaluate.run import run_evaluation
from lumos.tasks.detection.coco import coco_metrics
from lumos.tasks.report import Report
from lumos.tasks.segmentation.metrics import mask_confusion, segmentation_metrics

__all__ = [
    "Report",
    "coco_metrics",
    "mask_confusion",
    "run_evaluation",
    "segmentation_metrics",
]

make_callable(__name__, run_evaluation)
