"""Ranking the store's models as starting points for a target dataset.

One forward pass of the target's training split through each source gives what its head
receives (the features) and its class probabilities; every estimator scores them. P2L
compares the target with each source's training data in the reference network's feature
space (:mod:`lumos.bundle.fingerprint`). The default score is the mean of the estimators'
ranks (an ensemble of ranks: no estimator's scale dominates). Each source's architecture,
freshly initialised, is scored in the same pool: a source whose features do no better than
it is flagged (negative transfer). Best first.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from scipy.stats import rankdata
from sklearn.exceptions import ConvergenceWarning
from torch import nn

from lumos.arithmetic import choose
from lumos.bundle import Bundle, BundleMeta, list_bundles
from lumos.bundle.fingerprint import FeatureFingerprint, fingerprint, reference
from lumos.data import Dataset
from lumos.data.loader import BatchLoader, at_size
from lumos.errors import DataError, NotFoundError
from lumos.models import build_network
from lumos.models.features import head_of
from lumos.pretrained.init import hub_spec, starting_point
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
# Every estimator's value is shown. The default score is the mean of DEFAULT's ranks, and
# a source is flagged when it ranks no better than its network from scratch on CONTROL's
# (the estimators on features: a random network has no training data for P2L). Both were
# chosen on benchmarks/transfer.py's tuning targets and hold on its held-out ones
# (docs/BENCHMARKS.md).
DEFAULT = ("logme", "p2l")
CONTROL = ("logme", "linear_probe")
IMAGES = 2000  # target images scored at most: the estimators need no more


@dataclass
class SourceScore:
    """A source model for a target: the default score (higher is better), every
    estimator's value, the seconds its forward pass and estimators took, and ``control``:
    a randomly initialised network of its architecture, scored alike; ``hurts`` when the
    source's features do no better than the control's (:data:`CONTROL`): starting from it
    may be worse than starting from nothing (negative transfer)."""

    source: str
    network: str = ""
    score: float = 0.0
    scores: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    control: SourceScore | None = None
    hurts: bool = False  # no better than ``control``: it may transfer negatively
    note: str = ""  # what the score could not take into account

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def rank(
    target: str,
    sources: Sequence[str] | None = None,
    *,
    hub: Sequence[str] = (),
    workspace: Workspace | None = None,
    control: bool = True,
    images: int = IMAGES,
    report: Callable[[str, int, int], None] = lambda stage, done, total: None,
) -> list[SourceScore]:
    """The sources (default: every saved classifier) and the published weights ``hub``
    names (``resnet50``, ``timm:convnext_tiny``: pulled into the store first, from the
    library's cache where it has them) for dataset ``target``, best first; with
    ``control``, each with its architecture from scratch scored in the same pool. The
    target's training split is scored whole up to ``images`` records, beyond that a seeded
    sample with each class's share. ``report`` hears the stage, and the networks scored of
    how many."""
    workspace = (workspace or Workspace()).ensure()
    part = _sample(target_split(target, workspace), images)
    pulled = [starting_point(hub_spec(name), workspace, progress=True).name for name in hub]
    names = list(sources) if sources else classifiers(workspace)
    names += [name for name in pulled if name not in names]
    if not names:
        raise NotFoundError("no saved classifier to rank: save or import one first")
    bundles = [Bundle.saved(name, workspace) for name in names]
    report("fingerprinting the target", 0, len(names))
    target_data, labels = fingerprint(part), np.asarray(part.labels())
    scored = []
    for name, bundle in zip(names, bundles, strict=True):
        report("scoring the models", len(scored), len(names))
        p2l = _p2l(bundle, target_data, workspace)
        scored.append(_scored(name, bundle.model(), bundle, (part, labels), p2l))
    report("scoring their networks from scratch", 0, len(names))
    controls = _controls(scored, bundles, (part, labels)) if control else {}
    pool = [*scored, *controls.values()]
    for entry, score in zip(pool, mean_ranks(pool), strict=True):
        entry.score = score
    on_features = dict(zip(map(id, pool), mean_ranks(pool, CONTROL), strict=True))
    for entry in scored:
        if entry.control is not None:
            entry.hurts = on_features[id(entry)] <= on_features[id(entry.control)]
    return sorted(scored, key=lambda s: -s.score)


def _controls(
    scored: list[SourceScore], bundles: list[Bundle], target: tuple[Dataset, np.ndarray]
) -> dict[str, SourceScore]:
    """Each source's architecture from scratch (one per network whatever its class count:
    the first such source's, with its input normalisation), scored alike and attached to
    the source as its ``control``; P2L is 0: it saw no data."""
    controls: dict[str, SourceScore] = {}
    for entry, bundle in zip(scored, bundles, strict=True):
        architecture = bundle.spec.model_dump_json(exclude={"num_classes"})
        if architecture not in controls:
            name = f"{bundle.spec.name} from scratch"
            controls[architecture] = _scored(name, scratch_model(bundle), bundle, target, 0.0)
        entry.control = controls[architecture]
    return controls


def _scored(
    name: str, model: nn.Module, bundle: Bundle, target: tuple[Dataset, np.ndarray], p2l: float
) -> SourceScore:
    """Every estimator of ``model`` (``bundle``'s network) on the target's records and labels."""
    started = time.perf_counter()
    part, labels = target
    features, probabilities = source_features(bundle, part, model)
    with warnings.catch_warnings():  # features that tell nothing apart score low: enough said
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        values = {key: float(fn(features, labels, probabilities)) for key, fn in ESTIMATORS.items()}
    values["p2l"] = p2l
    seconds = time.perf_counter() - started
    note = "" if math.isfinite(p2l) else "P2L left out: its training data is not in the workspace"
    return SourceScore(name, bundle.spec.name, scores=values, seconds=seconds, note=note)


def scratch_model(bundle: Bundle) -> nn.Module:
    """``bundle``'s network (with its input normalisation) freshly initialised, seed 0."""
    model = bundle.model()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model.net.load_state_dict(build_network(bundle.spec, trust_code=False).state_dict())
    return model.eval()


def _p2l(bundle: Bundle, target: FeatureFingerprint, workspace: Workspace) -> float:
    """P2L of ``bundle``'s training data for the target; NaN where it is not known."""
    source = source_fingerprint(bundle, workspace)
    if source is None:
        return math.nan
    similarity = estimators.domain_similarity(
        target.centroids(), np.array(target.counts), source.centroids(), np.array(source.counts)
    )
    return estimators.p2l(similarity, source.images)


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


def target_split(target: str, workspace: Workspace) -> Dataset:
    """The training split of dataset ``target``, refused when it cannot be ranked for."""
    return _target(Dataset.open(target, workspace))


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


def _sample(part: Dataset, images: int) -> Dataset:
    """At most about ``images`` records of ``part``, each class keeping its share (and at
    least two), drawn with seed 0."""
    if len(part) <= images:
        return part
    labels, rng = np.asarray(part.labels()), np.random.default_rng(0)
    chosen = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        count = min(len(members), max(2, round(images * len(members) / len(part))))
        chosen.append(rng.choice(members, count, replace=False))
    return part.subset(np.sort(np.concatenate(chosen)))


def classifiers(workspace: Workspace) -> list[str]:
    """The saved models that can be ranked as sources: those of a task that transfers."""
    return [row["name"] for row in list_bundles(workspace) if task_named(row["task"]).transfers]


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


def mean_ranks(scored: Sequence[SourceScore], keys: Sequence[str] = DEFAULT) -> list[float]:
    """Minus each entry's mean rank over the estimators ``keys``, each rank scaled to
    0 (best) .. 1 (worst) among the entries it is known for; ties share their mean rank."""
    totals, counts = np.zeros(len(scored)), np.zeros(len(scored))
    for key in keys:
        values = np.array([s.scores.get(key, math.nan) for s in scored])
        known = np.isfinite(values)
        if known.sum() < 2:
            continue
        ranks = rankdata(-values[known], method="average")
        totals[known] += (ranks - 1) / (known.sum() - 1)
        counts[known] += 1
    return (-totals / np.maximum(counts, 1)).tolist()
