"""The target images a ranking scores: the training split of a dataset that can be ranked
for, or a seeded sample of it in which every class keeps its share and a floor."""

from __future__ import annotations

import numpy as np

from lumos.data import Dataset
from lumos.errors import DataError
from lumos.workspace import Workspace


def target_split(target: str, workspace: Workspace) -> Dataset:
    """The training split of dataset ``target``, refused when it cannot be ranked for."""
    dataset = Dataset.open(target, workspace)
    if not dataset.has_class_labels or dataset.multi_label:
        raise DataError(None, f"dataset {dataset.name!r}: ranking takes single-label classes")
    part = dataset.split("train")
    if len(dataset.classes) < 2:
        raise DataError(None, f"dataset {dataset.name!r} has one class: nothing to tell apart")
    if len(part) < 2 * len(dataset.classes):
        raise DataError(
            None,
            f"dataset {dataset.name!r} has {len(part)} training images for "
            f"{len(dataset.classes)} classes: ranking needs at least two a class",
        )
    return part


def stratified(part: Dataset, images: int, least: int = 2) -> Dataset:
    """At most about ``images`` records of ``part``, each class keeping its share and at
    least ``least`` (or all it has), drawn with seed 0; ``part`` itself when it has no more."""
    if len(part) <= images:
        return part
    labels, rng = np.asarray(part.labels()), np.random.default_rng(0)
    chosen = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        count = min(len(members), max(least, round(images * len(members) / len(part))))
        chosen.append(rng.choice(members, count, replace=False))
    return part.subset(np.sort(np.concatenate(chosen)))
