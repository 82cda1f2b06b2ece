"""Ranking the store's models as starting points for a target dataset.

One forward pass of the target's training split through each source gives what its head
receives (the features) and its class probabilities; every estimator scores them, and the
default score is the mean of the estimators' ranks (an ensemble of ranks: no estimator's
scale dominates). Best first.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from lumos.bundle import Bundle, list_bundles
from lumos.data import Dataset
from lumos.data.loader import BatchLoader
from lumos.errors import DataError, NotFoundError
from lumos.tasks import task_named
from lumos.train.feature_cache import cached_features
from lumos.train.probe import head_of
from lumos.transfer import estimators
from lumos.workspace import Workspace

Estimator = Callable[[np.ndarray, np.ndarray, np.ndarray], float]
ESTIMATORS: dict[str, Estimator] = {
    "logme": lambda f, y, p: estimators.logme(f, y),
    "leep": lambda f, y, p: estimators.leep(p, y),
    "nleep": lambda f, y, p: estimators.nleep(f, y),
    "knn": lambda f, y, p: estimators.knn_accuracy(f, y),
    "gbc": lambda f, y, p: estimators.gbc(f, y),
    "linear_probe": lambda f, y, p: estimators.linear_probe_accuracy(f, y),
}


@dataclass
class SourceScore:
    """A source model for a target: the default score (higher is better), every
    estimator's value, and the seconds the forward pass and the estimators took."""

    source: str
    score: float = 0.0
    scores: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0


def rank(
    target: str, sources: Sequence[str] | None = None, *, workspace: Workspace | None = None
) -> list[SourceScore]:
    """The sources (default: every saved classifier) for dataset ``target``, best first."""
    workspace = (workspace or Workspace()).ensure()
    part = _target(Dataset.open(target, workspace))
    names = list(sources) if sources else _classifiers(workspace)
    if not names:
        raise NotFoundError("no saved classifier to rank: save or import one first")
    labels = np.asarray(part.labels())
    scored = []
    for name in names:
        bundle = Bundle.load(name, workspace)
        started = time.perf_counter()
        features, probabilities = source_features(bundle, part)
        values = {key: fn(features, labels, probabilities) for key, fn in ESTIMATORS.items()}
        scored.append(SourceScore(name, scores=values, seconds=time.perf_counter() - started))
    for entry, score in zip(scored, _mean_ranks(scored), strict=True):
        entry.score = score
    return sorted(scored, key=lambda s: -s.score)


def _target(dataset: Dataset) -> Dataset:
    """The training split of a classification dataset that can be scored."""
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


def _classifiers(workspace: Workspace) -> list[str]:
    return [row["name"] for row in list_bundles(workspace) if task_named(row["task"]).scores_images]


@torch.no_grad()
def source_features(bundle: Bundle, part: Dataset) -> tuple[np.ndarray, np.ndarray]:
    """What ``bundle``'s head receives for every record of ``part``, and its class
    probabilities; images are resized to the bundle's input size."""
    if not bundle.task.scores_images:
        raise DataError(None, f"model {bundle.name!r} is a {bundle.task.noun}: rank classifiers")
    wanted = bundle.preprocessing.channels
    if wanted != part.channels:
        raise DataError(
            None,
            f"model {bundle.name!r} takes {wanted}-channel images and dataset "
            f"{part.name!r} has {part.channels}: import the data with --channels {wanted}",
        )
    model, size = bundle.model(), bundle.preprocessing.input_size
    head = head_of(model)

    def batches(part: Dataset) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for images, labels in BatchLoader(part, 64):
            if tuple(images.shape[2:]) != size:
                images = F.interpolate(images, size=size, mode="bilinear", antialias=True)
            yield images, labels

    [(inputs, _)] = cached_features(model, head, [part], batches, size=size, dtype=torch.float32)
    return inputs.numpy(), torch.softmax(head(inputs), 1).numpy()


def _mean_ranks(scored: list[SourceScore]) -> list[float]:
    """Minus each source's mean rank over the estimators (1 = best by that estimator)."""
    ranks = np.zeros(len(scored))
    for key in ESTIMATORS:
        values = np.array([s.scores[key] for s in scored])
        ranks += np.argsort(np.argsort(-values, kind="stable"), kind="stable") + 1
    return (-ranks / len(ESTIMATORS)).tolist()
