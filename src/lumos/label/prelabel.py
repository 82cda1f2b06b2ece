"""A saved model's first pass over a label project: pre-labels, most doubtful first."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from lumos.bundle import Bundle
from lumos.jobs import Job, queue_work, running_job
from lumos.label.project import LabelProject
from lumos.tasks.labelling import LabelError
from lumos.workspace import Workspace

BATCH = 32


def prelabel(
    project: LabelProject,
    model: str,
    *,
    workspace: Workspace | None = None,
    progress: Callable[[int, int], None] | None = None,
    job_id: str | None = None,
) -> int:
    """Pre-label every image of ``project`` with saved model ``model`` (a name or a bundle
    path) as a ``prelabel`` job (``job_id``: a queued one); returns how many were
    pre-labelled. Classes the project does not have are left out of the pre-labels."""
    workspace = (workspace or Workspace()).ensure()
    params = {"project": project.name, "model": model}
    with running_job(workspace, "prelabel", params, job_id) as job:

        def report(done: int, total: int) -> None:
            job.report_progress("prelabel", done, total)
            if progress:
                progress(done, total)

        count = _prelabel(project, model, workspace, report)
        job.record_result({"project": project.name, "model": model, "prelabelled": count})
        job.log(f"pre-labelled {count} images of {project.name} with {model}")
    return count


def model_for(project: LabelProject, model: str, workspace: Workspace | None = None) -> Bundle:
    """Saved model ``model`` if it can pre-label ``project``: its kind, some of its classes."""
    bundle = Bundle.load(model, workspace)
    if bundle.task.label_kind is not project.kind:
        raise LabelError(
            f"{model} is a {bundle.task.noun}: a {project.info.task} project needs one of its kind"
        )
    if not set(bundle.labels) & set(project.info.classes):
        raise LabelError(f"{model} knows none of the project's classes")
    return bundle


def _prelabel(
    project: LabelProject, model: str, workspace: Workspace, progress: Callable[[int, int], None]
) -> int:
    bundle = model_for(project, model, workspace)
    shared = set(bundle.labels) & set(project.info.classes)
    images = project.rows("SELECT id, file FROM images ORDER BY id")
    done = 0
    for start in range(0, len(images), BATCH):
        part = images[start : start + BATCH]
        results = bundle.predict([project.folder / "images" / row["file"] for row in part])
        found = []
        for row, result in zip(part, results, strict=True):
            if result.error is None:
                value, uncertainty = project.kind.from_result(result)
                found.append((row["id"], project.kind.keep_classes(value, shared), uncertainty))
        done += project.set_prelabels(model, found)
        progress(start + len(part), len(images))
    return done


@dataclass(frozen=True)
class PrelabelJob:
    """Pre-label label project ``project`` with saved model ``model``, in a worker."""

    kind: ClassVar[str] = "prelabel"
    project: str
    model: str

    def run(self, workspace: Workspace, job_id: str) -> None:
        prelabel(LabelProject.open(self.project, workspace), self.model, workspace=workspace,
                 job_id=job_id)  # fmt: skip


def queue_prelabel(work: PrelabelJob, workspace: Workspace) -> Job:
    """A queued pre-labelling for a runner, refused up front if the model could not do it."""
    model_for(LabelProject.open(work.project, workspace), work.model, workspace)
    return queue_work(work, workspace)
