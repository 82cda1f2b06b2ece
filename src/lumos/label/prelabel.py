"""A saved model's first pass over a label project: pre-labels, most doubtful first."""

from __future__ import annotations

from collections.abc import Callable

from lumos.bundle import Bundle
from lumos.label.kinds import LabelError
from lumos.label.project import LabelProject
from lumos.workspace import Workspace

BATCH = 32


def prelabel(
    project: LabelProject,
    model: str,
    *,
    workspace: Workspace | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Pre-label every image of ``project`` with saved model ``model`` (a name or a bundle
    path); returns how many were pre-labelled. Classes the project does not have are left
    out of the pre-labels."""
    bundle = Bundle.load(model, workspace)
    if bundle.task.name != project.kind.task:
        raise LabelError(
            f"{model} is a {bundle.task.noun}: a {project.kind.task} project needs one of its kind"
        )
    shared = set(bundle.labels) & set(project.info.classes)
    if not shared:
        raise LabelError(f"{model} knows none of the project's classes")
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
        if progress:
            progress(start + len(part), len(images))
    return done
