"""A label project becomes a dataset (or a new version of one) in one step; the dataset
records where its labels came from."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from lumos.data.formats import Reader
from lumos.data.importer import import_dataset
from lumos.data.options import ImportOptions
from lumos.data.records import Scan
from lumos.label.project import LabelProject
from lumos.label.queue import progress
from lumos.label.store import now
from lumos.tasks.labelling import Value
from lumos.workspace import Workspace

DATASET_PREFIX = "dataset:"


def final_labels(project: LabelProject) -> dict[int, tuple[Value, str]]:
    """The label each image goes into the dataset with, and whose it is.

    A reviewer's acceptance of a label's current revision decides; rejected labels are left
    out; otherwise people's labels outrank a source dataset's, a majority of people decides
    a class, and the latest save decides boxes and polygons (and ties)."""
    rows = project.rows(  # in the order of their last save (the history's row order)
        "SELECT labels.image_id, labels.annotator, labels.value, labels.revision, "
        "MAX(history.rowid) AS last FROM labels JOIN history USING (image_id, annotator) "
        "GROUP BY labels.image_id, labels.annotator ORDER BY last"
    )
    reviews = {(r["image_id"], r["annotator"]): r for r in project.rows("SELECT * FROM reviews")}
    by_image: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        review = reviews.get((row["image_id"], row["annotator"]))
        current = review is not None and review["revision"] == row["revision"]
        if current and review["verdict"] == "rejected":
            continue
        row["accepted"] = current and review["verdict"] == "accepted"
        by_image.setdefault(row["image_id"], []).append(row)
    return {image_id: _decide(project, labels) for image_id, labels in by_image.items()}


def _decide(project: LabelProject, labels: list[dict[str, Any]]) -> tuple[Value, str]:
    accepted = [row for row in labels if row["accepted"]]
    people = [row for row in labels if not row["annotator"].startswith(DATASET_PREFIX)]
    candidates = accepted or people or labels
    chosen = candidates[-1]
    if not accepted and project.kind.votes:  # the most common answer, ties to the latest

        def answer(row: dict[str, Any]) -> str:
            return json.dumps(sorted(project.kind.classes_in(json.loads(row["value"]))))

        counts = Counter(answer(row) for row in candidates)
        most = max(counts.values())
        chosen = [row for row in candidates if counts[answer(row)] == most][-1]
    return json.loads(chosen["value"]), chosen["annotator"]


def project_scan(project: LabelProject) -> Scan:
    """The dataset's items: each image with its final label; unlabelled and skipped images
    are reported and left out."""
    final = final_labels(project)
    scan = Scan(task=project.kind.dataset_kind, items=[], classes=list(project.info.classes),
                multi_label=project.info.multi_label, root=project.folder / "images")  # fmt: skip
    used: Counter[str] = Counter()
    for image in project.rows("SELECT * FROM images ORDER BY file"):
        value, annotator = final.get(image["id"], (None, ""))
        if value is None or value.get("skip"):
            scan.skip(image["file"], "skipped by its annotator" if value else "not labelled yet")
            continue
        item = project.kind.item(image["file"], value, (image["width"], image["height"]))
        item.path = project.folder / "images" / image["file"]
        item.split = image["split"]
        scan.items.append(item)
        used[annotator] += 1
    scan.provenance = {
        "label_project": project.name,
        "labels_by": dict(used),
        "progress": progress(project),
        "finished": now(),
    }
    return scan


def finish(
    project: LabelProject,
    dataset: str,
    *,
    new_version: bool = False,
    options: ImportOptions | None = None,
    workspace: Workspace | None = None,
) -> Path:
    """Import ``project``'s labelled images as dataset ``dataset``; with ``new_version`` and
    an existing ``dataset``, as ``dataset-v2`` (the next free number) whose provenance names
    the version before. Returns the dataset folder."""
    workspace = (workspace or Workspace()).ensure()
    name, previous = dataset, None
    if new_version and workspace.dataset_dir(dataset).exists():
        number = 2
        while workspace.dataset_dir(f"{dataset}-v{number}").exists():
            number += 1
        name, previous = f"{dataset}-v{number}", dataset

    def scan(_: Path) -> Scan:
        found = project_scan(project)
        if previous and found.provenance is not None:
            found.provenance["previous_version"] = previous
        return found

    reader = Reader(f"label:{project.name}", scan)
    return import_dataset(project.folder, name, options, workspace=workspace, reader=reader)
