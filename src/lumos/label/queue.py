"""Which images an annotator sees, in which order, and how far the project has come."""

from __future__ import annotations

import json
from typing import Any, Literal

from lumos.label.project import LabelProject
from lumos.tasks.labelling import LabelError

Order = Literal["file", "uncertain"]


def queue(
    project: LabelProject,
    annotator: str,
    *,
    show: str = "all",
    order: Order = "file",
) -> list[int]:
    """Image ids for ``annotator``: ``show`` is ``all``, ``unlabelled`` (by them),
    ``class:NAME`` (any label of that class) or ``annotator:NAME`` (labelled by them);
    ``order`` ``uncertain`` puts the pre-labels the model was least sure of first."""
    rows = project.rows(
        "SELECT images.id, images.file, prelabels.uncertainty FROM images "
        "LEFT JOIN prelabels ON prelabels.image_id = images.id ORDER BY images.file"
    )
    keep = _filter(project, annotator, show)
    rows = [row for row in rows if keep is None or row["id"] in keep]
    if order == "uncertain":
        rows.sort(key=lambda row: -(row["uncertainty"] or 0.0))
    elif order != "file":
        raise LabelError(f"unknown order {order!r}: choose file or uncertain")
    return [row["id"] for row in rows]


def _filter(project: LabelProject, annotator: str, show: str) -> set[int] | None:
    what, _, name = show.partition(":")
    if what == "all":
        return None
    labels = project.rows("SELECT image_id, annotator, value FROM labels")
    if what == "unlabelled":
        done = {row["image_id"] for row in labels if row["annotator"] == annotator}
        return {row["id"] for row in project.rows("SELECT id FROM images")} - done
    if what == "annotator" and name:
        return {row["image_id"] for row in labels if row["annotator"] == name}
    if what == "class" and name in project.info.classes:
        kind = project.kind
        return {
            row["image_id"] for row in labels if name in kind.classes_in(json.loads(row["value"]))
        }
    raise LabelError(
        f"unknown filter {show!r}: all, unlabelled, class:NAME (a class of the project) "
        "or annotator:NAME"
    )


def progress(project: LabelProject) -> dict[str, Any]:
    """Images, labelled images (by anyone), per annotator counts, pre-labels, the share of
    pre-labels saved unchanged, reviews."""
    (images,) = project.rows("SELECT COUNT(*) AS n FROM images")
    labels = project.rows("SELECT image_id, annotator, value, prelabel_kept FROM labels")
    per_annotator: dict[str, int] = {}
    for row in labels:
        per_annotator[row["annotator"]] = per_annotator.get(row["annotator"], 0) + 1
    skipped = {row["image_id"] for row in labels if json.loads(row["value"]).get("skip")}
    judged = [row["prelabel_kept"] for row in labels if row["prelabel_kept"] is not None]
    (prelabels,) = project.rows("SELECT COUNT(*) AS n FROM prelabels")
    reviews = project.rows("SELECT verdict, COUNT(*) AS n FROM reviews GROUP BY verdict")
    return {
        "images": images["n"],
        "labelled": len({row["image_id"] for row in labels} - skipped),
        "skipped": len(skipped),
        "annotators": per_annotator,
        "prelabels": prelabels["n"],
        "prelabels_judged": len(judged),
        "prelabels_accepted": sum(judged) / len(judged) if judged else None,
        "reviews": {row["verdict"]: row["n"] for row in reviews},
    }


def summary(project: LabelProject) -> dict[str, Any]:
    """The project as the workbench lists it: its info and :func:`progress`."""
    info = project.info
    return {"name": info.name, "task": info.task, "classes": info.classes,
            "multi_label": info.multi_label, "source": info.source, "created": info.created,
            "progress": progress(project)}  # fmt: skip
