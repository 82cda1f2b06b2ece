"""What one network's features score on the target, and what its training data do.

One forward pass of the target's sampled images through the network gives what its head
receives (the features) and its class probabilities; each estimator asked for scores them.
P2L compares the source's training data with the target's in one reference network's
feature space (:mod:`lumos.bundle.fingerprint`); its two factors, how alike the data are
and how much data the source saw, are kept apart too.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator, Sequence

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from torch import nn

from lumos.arithmetic import choose
from lumos.bundle import Bundle, BundleMeta
from lumos.bundle.fingerprint import FeatureFingerprint, fingerprint, reference
from lumos.data import Dataset
from lumos.data.loader import BatchLoader, at_size
from lumos.errors import DataError
from lumos.models import build_network
from lumos.models.features import head_of
from lumos.tasks import task_named
from lumos.train.feature_cache import cached_features
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
DATA_ESTIMATORS = ("p2l", "p2l_similarity", "p2l_size")  # of the source's training data


def scores_of(
    features: np.ndarray, probabilities: np.ndarray, labels: np.ndarray, keys: Sequence[str]
) -> dict[str, float]:
    """The estimators ``keys`` (of :data:`ESTIMATORS`) of these features and labels."""
    with warnings.catch_warnings():  # features that tell nothing apart score low: enough said
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        return {key: float(ESTIMATORS[key](features, labels, probabilities)) for key in keys}


def data_scores(
    bundle: Bundle, target: FeatureFingerprint, workspace: Workspace
) -> dict[str, float]:
    """P2L of ``bundle``'s training data for the target, and its factors: the data's
    similarity and the source's size term; NaN where the training data are not known."""
    source = source_fingerprint(bundle, workspace)
    if source is None:
        return dict.fromkeys(DATA_ESTIMATORS, math.nan)
    similarity = estimators.domain_similarity(
        target.centroids(), np.array(target.counts), source.centroids(), np.array(source.counts)
    )
    size = estimators.p2l(1.0, source.images)
    return {"p2l": similarity * size, "p2l_similarity": similarity, "p2l_size": size}


def source_fingerprint(bundle: Bundle, workspace: Workspace) -> FeatureFingerprint | None:
    """The fingerprint of ``bundle``'s training data: as recorded at save time, or computed
    (and recorded) now when the dataset it was trained on is still there unchanged."""
    recorded = bundle.meta.feature_fingerprint
    if recorded is not None and recorded.reference == reference().digest:
        return recorded
    origin = bundle.meta.provenance
    if not origin.get("dataset") or not origin.get("fingerprint"):
        return None
    dataset = Dataset.unchanged(origin["dataset"], origin["fingerprint"], workspace)
    if dataset is None:
        return None
    found = fingerprint(dataset.split("train"))
    bundle.record_fingerprint(found)
    return found


def check_source(meta: BundleMeta, part: Dataset) -> None:
    """Refuse a source (what its bundle says of itself) that cannot be scored on ``part``:
    not a classifier, or another number of channels."""
    task = task_named(meta.task)
    if not task.transfers:
        raise DataError(None, f"model {meta.name!r} is a {task.noun}: rank classifiers")
    wanted = meta.preprocessing.channels
    if wanted != part.channels:
        raise DataError(
            None,
            f"model {meta.name!r} takes {wanted}-channel images and dataset "
            f"{part.name!r} has {part.channels}: import the data with --channels {wanted}",
        )


def scratch_model(bundle: Bundle) -> nn.Module:
    """``bundle``'s network (with its input normalisation) freshly initialised, seed 0."""
    model = bundle.model()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model.net.load_state_dict(build_network(bundle.spec, trust_code=False).state_dict())
    return model.eval()


@torch.no_grad()
def source_features(
    bundle: Bundle, part: Dataset, model: nn.Module | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """What ``bundle``'s head (or ``model``'s, a network of its architecture) receives
    for every record of ``part``, and its class probabilities; images are resized to the
    bundle's input size. The network runs in the arithmetic ``precision: auto`` picks (bf16
    on a CPU that computes it natively, or on a GPU)."""
    check_source(bundle.meta, part)
    arithmetic = choose("auto", None, cpu_autocast=bundle.task.cpu_autocast)
    model = (model or bundle.model()).to(arithmetic.device)
    size, head = bundle.preprocessing.input_size, head_of(model)

    def batches(part: Dataset) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for images, labels in BatchLoader(part, 64):
            yield at_size(images.to(arithmetic.device), size), labels

    with arithmetic.context():
        [(inputs, _)] = cached_features(
            model, head, [part], batches, size=size, dtype=arithmetic.dtype
        )
    logits = head(inputs.to(arithmetic.device)).float()
    return inputs.cpu().numpy(), torch.softmax(logits, 1).cpu().numpy()
