"""Label projects: people (and a model's first pass) labelling images into a dataset."""

from lumos.label.agreement import agreement
from lumos.label.finish import RULE, conflicts, finish
from lumos.label.prelabel import prelabel
from lumos.label.project import LabelProject, kind_named, list_projects, remove_project
from lumos.label.queue import progress, queue, summary
from lumos.label.sources import add_dataset, images_below, start_project
from lumos.label.store import ConflictError
from lumos.tasks.labelling import LabelError

__all__ = [
    "RULE",
    "ConflictError",
    "LabelError",
    "LabelProject",
    "add_dataset",
    "agreement",
    "conflicts",
    "finish",
    "images_below",
    "kind_named",
    "list_projects",
    "prelabel",
    "progress",
    "queue",
    "remove_project",
    "start_project",
    "summary",
]
