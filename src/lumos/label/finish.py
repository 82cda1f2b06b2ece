"""A label project becomes a dataset (or a new version of one) in one step; the dataset
records where its labels came from."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lumos.data.formats import Reader
from lumos.data.importer import import_dataset
from lumos.data.options import ImportOptions
from lumos.data.records import Scan
from lumos.label.project import LabelProject
from lumos.label.queue import progress
from lumos.label.store import now
from lumos.tasks.labelling import LabelKind, Value
from lumos.workspace import Workspace

DATASET_PREFIX = "dataset:"


RULE = (
    "a reviewer's acceptance decides; rejected labels are left out; people's labels outrank "
    "a source dataset's; then the answer most annotators agree on, ties to the latest; a "
    "label with objects (or classes) always outranks an empty one, and an empty one a skip"
)


@dataclass(frozen=True)
class Decision:
    """The label an image goes into the dataset with: whose it is, the rule that chose it,
    and the annotators whose different labels were not taken."""

    value: Value
    annotator: str
    rule: str  # review, agreement, latest non-empty, only label, no objects, skipped
    overruled: tuple[str, ...] = ()


def final_labels(project: LabelProject) -> dict[int, Decision]:
    """The decision for each labelled image (:data:`RULE`): no empty or older label of one
    annotator replaces another's label with objects unless a reviewer accepted it."""
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
        row["value"] = json.loads(row["value"])
        by_image.setdefault(row["image_id"], []).append(row)
    return {image_id: _decide(project.kind, labels) for image_id, labels in by_image.items()}


def conflicts(project: LabelProject) -> list[dict[str, Any]]:
    """The images whose annotators disagree: whose label was taken, by which rule, and whose
    were not; what a person checks before the dataset is made."""
    files = {row["id"]: row["file"] for row in project.rows("SELECT id, file FROM images")}
    decided = sorted(final_labels(project).items(), key=lambda item: files[item[0]])
    return [
        {"image": files[i], "chosen": d.annotator, "rule": d.rule, "overruled": list(d.overruled)}
        for i, d in decided
        if d.overruled
    ]


def _decide(kind: LabelKind, labels: list[dict[str, Any]]) -> Decision:
    accepted = [row for row in labels if row["accepted"]]
    people = [row for row in labels if not row["annotator"].startswith(DATASET_PREFIX)]
    candidates = people or labels
    said = [row for row in candidates if not row["value"].get("skip")]  # skips say nothing
    if accepted:
        return _decision(kind, accepted[-1], "review", said)
    filled = [row for row in said if kind.classes_in(row["value"])]
    if not filled:
        return _decision(kind, (said or candidates)[-1], "no objects" if said else "skipped", [])
    groups = [[row for row in filled if kind.same(row["value"], o["value"])] for o in filled]
    largest = max(len(group) for group in groups)
    chosen = [group for group in groups if len(group) == largest][-1][-1]
    rule = "agreement" if largest > 1 else "latest non-empty" if len(filled) > 1 else "only label"
    return _decision(kind, chosen, rule, said)


def _decision(
    kind: LabelKind, chosen: dict[str, Any], rule: str, said: list[dict[str, Any]]
) -> Decision:
    """``chosen``, and the annotators among ``said`` whose labels say something else."""
    overruled = tuple(
        row["annotator"]
        for row in said
        if row is not chosen and not kind.same(row["value"], chosen["value"])
    )
    return Decision(chosen["value"], chosen["annotator"], rule, overruled)


def project_scan(project: LabelProject) -> Scan:
    """The dataset's items: each image with its final label; unlabelled and skipped images
    are reported and left out."""
    final = final_labels(project)
    scan = Scan(task=project.kind.dataset_kind, items=[], classes=list(project.info.classes),
                multi_label=project.info.multi_label, root=project.folder / "images")  # fmt: skip
    used: Counter[str] = Counter()
    for image in project.rows("SELECT * FROM images ORDER BY file"):
        decision = final.get(image["id"])
        if decision is None or decision.value.get("skip"):
            scan.skip(image["file"], "skipped by its annotator" if decision else "not labelled yet")
            continue
        annotator = decision.annotator
        item = project.kind.item(image["file"], decision.value, (image["width"], image["height"]))
        item.path = project.folder / "images" / image["file"]
        item.split = image["split"]
        scan.items.append(item)
        used[annotator] += 1
    scan.provenance = {
        "label_project": project.name,
        "labels_by": dict(used),
        "progress": progress(project),
        "disagreements": sum(1 for d in final.values() if d.overruled),
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
