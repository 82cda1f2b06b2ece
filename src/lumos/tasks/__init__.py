"""Tasks: what differs between classification, detection and segmentation.

The only place that asks which task a network does. Everything else holds a
:class:`~lumos.tasks.base.Task` and calls it: its label rule, training objective, evaluator,
predictor and result type. Adding a task is a package beside these three, registered with
:func:`register_task` (docs/architecture.md walks through it).
"""

from __future__ import annotations

from typing import Any

from lumos.data import Dataset
from lumos.errors import LumosError
from lumos.models.zoo import list_models, model_task
from lumos.tasks.base import Objective, PretrainedStart, Seen, Setup, Task, TrainedModel
from lumos.tasks.classification import CLASSIFICATION
from lumos.tasks.detection import DETECTION
from lumos.tasks.segmentation import SEGMENTATION

TASKS: dict[str, Task] = {task.name: task for task in (CLASSIFICATION, DETECTION, SEGMENTATION)}
DEFAULT_TASK: Task = CLASSIFICATION  # a bundle that names none was written before detection


def register_task(task: Task) -> Task:
    """Add ``task``, a new kind of output, under its name: bundles, recipes and networks
    registered in the zoo with ``task=<its name>`` reach it from then on."""
    if TASKS.get(task.name, task) is not task:
        raise LumosError(f"a task named {task.name!r} is registered already")
    TASKS[task.name] = task
    return task


def task_named(name: str) -> Task:
    """The task a bundle, recipe or request names."""
    if name not in TASKS:
        raise LumosError(f"unknown task {name!r}: choose from {', '.join(TASKS)}")
    return TASKS[name]


def task_of(network: str) -> Task:
    """The task of a registered network (timm's and custom ones classify)."""
    name = model_task(network)
    return task_named(name) if name else DEFAULT_TASK


def task_for(dataset: Dataset) -> Task:
    """The first task that can learn from ``dataset`` (the default one if none can)."""
    return next((t for t in TASKS.values() if t.fits(dataset)), DEFAULT_TASK)


def suggested_network(dataset: Dataset) -> str:
    """A network to start from on ``dataset``: its task's suggestion."""
    return task_for(dataset).suggested_network(dataset.size, dataset.channels)


def zoo_rows(pattern: str = "*") -> list[dict[str, Any]]:
    """The zoo's networks matching ``pattern``, each with the name of its task."""
    return [entry.as_dict() | {"task": task_of(entry.name).name} for entry in list_models(pattern)]


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
    "PretrainedStart",
    "Seen",
    "Setup",
    "Task",
    "TrainedModel",
    "misfit",
    "register_task",
    "suggested_network",
    "task_for",
    "task_named",
    "task_of",
    "zoo_rows",
]
