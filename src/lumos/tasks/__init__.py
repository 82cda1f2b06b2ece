"""Tasks: what differs between classification, detection and segmentation.

The only place that asks which task a network does. Everything else holds a
:class:`~lumos.tasks.base.Task` and calls it: its label rule, training objective, evaluator,
predictor and result type. Adding a task is a package beside these three, registered in
:data:`TASKS` (docs/architecture.md).
"""

from __future__ import annotations

from lumos.data import Dataset
from lumos.errors import LumosError
from lumos.models.zoo import model_task
from lumos.tasks.base import Objective, Seen, Setup, Task, TrainedModel
from lumos.tasks.classification import CLASSIFICATION
from lumos.tasks.detection import DETECTION
from lumos.tasks.segmentation import SEGMENTATION

TASKS: dict[str, Task] = {task.name: task for task in (CLASSIFICATION, DETECTION, SEGMENTATION)}
DEFAULT_TASK: Task = CLASSIFICATION  # a bundle that names none was written before detection


def task_named(name: str) -> Task:
    """The task a bundle, recipe or request names."""
    if name not in TASKS:
        raise LumosError(f"unknown task {name!r}: choose from {', '.join(TASKS)}")
    return TASKS[name]


def task_of(network: str) -> Task:
    """The task of a registered network (timm's and custom ones classify)."""
    return TASKS[model_task(network)]


def misfit(task: Task, network: str, dataset: Dataset) -> str:
    """Why ``network`` (of ``task``) cannot learn from ``dataset``, and what could."""
    could = [t for t in TASKS.values() if t.fits(dataset)]
    hint = " or ".join(f"a {t.noun} (e.g. network={t.example_network})" for t in could)
    return f"{network} {task.does}, but dataset {dataset.name!r} has no {task.needs}" + (
        f"; train {hint} on it" if could else ""
    )


__all__ = [
    "CLASSIFICATION",
    "DEFAULT_TASK",
    "DETECTION",
    "SEGMENTATION",
    "TASKS",
    "Objective",
    "Seen",
    "Setup",
    "Task",
    "TrainedModel",
    "misfit",
    "task_named",
    "task_of",
]
