"""Ranking the store's models as starting points for a target dataset, within a budget.

The budget (a share of the fine-tuning run the planner expects, or seconds) decides how
many of the target's training images are scored (a stratified sample, never fewer than
:data:`~lumos.transfer.budget.MIN_PER_CLASS` a class) and whether the trainability probe
fits. Each source is scored on the estimators the default score and the negative-transfer
flag need (every one with ``everything``): its features from one forward pass
(:mod:`lumos.transfer.scoring`), P2L from its training data's fingerprint. The default
score is the mean of the :data:`DEFAULT` estimators' ranks (an ensemble of ranks: no
estimator's scale dominates), with each source's rank interval over resamples of
the images (:mod:`lumos.transfer.stability`). Each source's architecture, freshly
initialised, is scored alike: a source that does no better than it on features and in the
probe is flagged (negative transfer). Best first.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from scipy.stats import rankdata
from torch import nn

from lumos.bundle import Bundle, list_bundles
from lumos.bundle.fingerprint import fingerprint
from lumos.data import Dataset
from lumos.errors import NotFoundError
from lumos.pretrained.init import hub_spec, starting_point
from lumos.tasks import task_named
from lumos.train import TrainError
from lumos.transfer import budget as budgets
from lumos.transfer.budget import DEFAULT_BUDGET, DEFAULT_TUNE, MIN_PER_CLASS, Budget, FineTune
from lumos.transfer.probe import STEPS, probe
from lumos.transfer.sample import stratified, target_split
from lumos.transfer.scoring import (
    DATA_ESTIMATORS,
    ESTIMATORS,
    check_source,
    data_scores,
    scores_of,
    scratch_model,
    source_features,
)
from lumos.transfer.stability import rank_intervals
from lumos.workspace import Workspace

# The default score is the mean of DEFAULT's ranks: of every way of choosing it on
# benchmarks/transfer.py's pools (any combination of estimators, at most two, one), one
# estimator chosen on the other pools did best on the pool left out, and k-NN is the one
# best on all three (docs/BENCHMARKS.md). A source is flagged when it ranks no better than
# its network from scratch on CONTROL's estimators and, where the probe ran, trains no
# better in it (within PROBE_MARGIN): of the rules on estimators cheap enough for the
# default budget, the one that did best on the pools' tuning targets.
DEFAULT = ("knn",)
CONTROL = ("logme",)
PROBE = "probe"  # minus the probe's late relative loss: higher trains better
ALIGNMENT = "alignment"  # the probe's mean cosine between successive steps' gradients
PROBE_MARGIN = 0.05  # of the loss over the loss of guessing
IMAGES = 2000  # target images scored at most: the estimators need no more
Report = Callable[[str, int, int], None]


@dataclass
class SourceScore:
    """A source model for a target: the default score (higher is better), every
    estimator's value computed, its rank interval (best, worst) over resamples of the
    images, the seconds its scoring took, and ``control``: a randomly initialised network of
    its architecture, scored alike; ``hurts`` when the source does no better than the
    control: starting from it may be worse than starting from nothing (negative transfer)."""

    source: str
    network: str = ""
    score: float = 0.0
    scores: dict[str, float] = field(default_factory=dict)
    interval: tuple[int, int] = (0, 0)
    seconds: float = 0.0
    control: SourceScore | None = None
    hurts: bool = False
    note: str = ""  # what the score could not take into account

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Ranking:
    """The sources best first, and what the answer rests on: the images scored (the fewest
    of a class), the estimators computed, the budget and the seconds taken."""

    target: str
    sources: list[SourceScore]
    images: int
    per_class: int
    estimators: list[str]
    budget: str
    allowed_seconds: float
    fine_tune_seconds: float  # the planner's expectation of one fine-tuning run
    seconds: float = 0.0
    probed: bool = False
    default: list[str] = field(default_factory=lambda: list(DEFAULT))
    control: list[str] = field(default_factory=lambda: list(CONTROL))

    @property
    def stable(self) -> bool:
        """Whether the first source ranks first on (nearly) every resample."""
        return len(self.sources) < 2 or self.sources[0].interval[1] == 1

    @property
    def overrun(self) -> str | None:
        """What to say where the ranking took longer than its budget allowed: the floor of
        images a class and each network's loading are paid whatever the budget."""
        if self.seconds <= self.allowed_seconds:
            return None
        return (
            f"took {self.seconds:.1f} s, over the {self.allowed_seconds:.1f} s the budget "
            f"allowed: at least {MIN_PER_CLASS} images a class are scored and every network "
            "is loaded and priced, whatever the budget"
        )

    @property
    def places(self) -> dict[str, tuple[int, int]]:
        """Each source's best and worst place among the sources under the estimators
        computed (the probe's signals left out), one at a time: wide where the estimators
        disagree about it."""
        found: dict[str, list[int]] = {s.source: [] for s in self.sources}
        for key in (k for k in self.estimators if k in ESTIMATORS or k in DATA_ESTIMATORS):
            known = [s for s in self.sources if math.isfinite(s.scores.get(key, math.nan))]
            ranks = rankdata([-s.scores[key] for s in known], method="min")
            for entry, place in zip(known, ranks, strict=True):
                found[entry.source].append(int(place))
        return {name: (min(p), max(p)) if p else (0, 0) for name, p in found.items()}

    def as_dict(self) -> dict[str, Any]:
        """The ranking as JSON takes it: a value not known (NaN) or unbounded (no budget) is
        null, as JSON has neither."""
        derived = {"stable": self.stable, "places": self.places, "overrun": self.overrun}
        return _compliant(asdict(self) | derived)


def _compliant(value: Any) -> Any:
    """``value`` with every NaN and infinite float, however deep, made None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _compliant(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_compliant(item) for item in value]
    return value


@dataclass(frozen=True)
class _Pool:
    """What every network is scored on: the sampled images and their labels, the whole
    dataset (for the probe), the estimators asked for, and whether the probe runs."""

    sample: Dataset
    labels: np.ndarray
    dataset: Dataset
    keys: tuple[str, ...]
    probe: bool
    tune: FineTune
    workspace: Workspace


def rank(
    target: str,
    sources: Sequence[str] | None = None,
    *,
    hub: Sequence[str] = (),
    workspace: Workspace | None = None,
    control: bool = True,
    images: int = IMAGES,
    budget: Budget = DEFAULT_BUDGET,
    tune: FineTune = DEFAULT_TUNE,
    everything: bool = False,
    report: Report = lambda stage, done, total: None,
) -> Ranking:
    """The sources (default: every saved classifier) and the published weights ``hub``
    names (``resnet50``, ``timm:convnext_tiny``: pulled into the store first, from the
    library's cache where it has them) for dataset ``target``, best first; with
    ``control``, each with its architecture from scratch scored alike. ``budget`` sizes the
    sample of the training split (at most ``images``) against ``tune``, the fine-tuning run
    it prepares; ``everything`` computes every estimator, and the probe, whatever the
    budget. ``report`` hears the stage, and the networks scored of how many."""
    started = time.perf_counter()
    workspace = (workspace or Workspace()).ensure()
    part = target_split(target, workspace)
    bundles = _bundles(part, sources, hub, workspace)
    dataset = Dataset.open(target, workspace)
    report("pricing the networks", 0, len(bundles))
    prices = budgets.prices(bundles, dataset, tune, workspace)
    scored_networks = [b.spec.name for b in bundles] + (_networks(bundles) if control else [])
    allowed = math.inf if everything else budget.allowed(prices.fine_tune_seconds)
    wanted, probing = _sizing(prices, allowed, scored_networks, part, images, tune)
    classes = len(np.unique(part.labels()))
    sample = stratified(part, wanted, least=max(2, min(MIN_PER_CLASS, images // classes)))
    keys = (*ESTIMATORS, *DATA_ESTIMATORS) if everything else (*DEFAULT, *CONTROL)
    pool = _Pool(sample, np.asarray(sample.labels()), dataset, tuple(dict.fromkeys(keys)),
                 probing, tune, workspace)  # fmt: skip
    scored = _score_sources(bundles, pool, report)
    report("scoring their networks from scratch", 0, len(bundles))
    controls = _controls(scored, bundles, pool) if control else []
    _decide(scored, controls, pool)
    counts = np.unique(pool.labels, return_counts=True)[1]
    entries = sorted((s.entry for s in scored), key=lambda s: -s.score)
    return Ranking(
        target, entries, len(sample), int(counts.min()), list(entries[0].scores), str(budget),
        allowed, prices.fine_tune_seconds, time.perf_counter() - started, probing,
    )  # fmt: skip


def _bundles(
    part: Dataset, sources: Sequence[str] | None, hub: Sequence[str], workspace: Workspace
) -> list[Bundle]:
    """The sources asked for (every saved classifier when none) and the published weights
    named, pulled first; refused when there are none, or one cannot be scored on ``part``."""
    pulled = [starting_point(hub_spec(name), workspace, progress=True).name for name in hub]
    names = list(sources) if sources else classifiers(workspace)
    names += [name for name in pulled if name not in names]
    if not names:
        raise NotFoundError("no saved classifier to rank: save or import one first")
    bundles = [Bundle.saved(name, workspace) for name in names]
    for bundle in bundles:
        check_source(bundle.meta, part)
    return bundles


def _networks(bundles: list[Bundle]) -> list[str]:
    return list(dict.fromkeys(b.spec.name for b in bundles))


def _sizing(
    prices: budgets.Prices, allowed: float, networks: list[str], part: Dataset, most: int,
    tune: FineTune,
) -> tuple[int, bool]:  # fmt: skip
    """How many images to score, and whether the probe fits: the floor of images first,
    then the probe, then as many more images as the seconds ``allowed`` buy."""
    floor = MIN_PER_CLASS * len(np.unique(part.labels()))
    probe_images = _probe_steps(tune, part)
    with_probe = prices.images_for(allowed, networks, probe_images)
    affordable = with_probe if with_probe >= floor else prices.images_for(allowed, networks, 0)
    wanted = min(len(part), most, max(floor, int(min(affordable, 1e9))))
    return wanted, with_probe >= floor


def _probe_steps(tune: FineTune, part: Dataset) -> int:
    """The training images the probe passes, per network."""
    return STEPS * min(tune.batch_size, len(part))


@dataclass
class _Scored:
    """An entry and the features it was scored on (kept for the resamples)."""

    entry: SourceScore
    features: np.ndarray
    probabilities: np.ndarray


def _score_sources(bundles: list[Bundle], pool: _Pool, report: Report) -> list[_Scored]:
    """Every source scored on the pool's images and estimators (and probed, if it runs)."""
    data_keys = [k for k in DATA_ESTIMATORS if k in pool.keys]
    report("fingerprinting the target", 0, len(bundles))
    target_data = fingerprint(pool.sample) if data_keys else None
    scored = []
    for bundle in bundles:
        report("scoring the models", len(scored), len(bundles))
        found = data_scores(bundle, target_data, pool.workspace) if target_data else {}
        data = {key: found[key] for key in data_keys}
        entry = _scored(bundle.meta.name, bundle.model(), bundle, pool, data, scratch=False)
        if data and not math.isfinite(data[data_keys[0]]):
            entry.entry.note = "P2L left out: its training data is not in the workspace"
        scored.append(entry)
    return scored


def _scored(
    name: str, model: nn.Module, bundle: Bundle, pool: _Pool, data: dict[str, float],
    *, scratch: bool,
) -> _Scored:  # fmt: skip
    """``model`` (``bundle``'s network, or it from scratch) scored on the pool."""
    started = time.perf_counter()
    features, probabilities = source_features(bundle, pool.sample, model)
    keys = [key for key in pool.keys if key in ESTIMATORS]
    values = scores_of(features, probabilities, pool.labels, keys) | data
    note = ""
    if pool.probe:
        try:
            found = probe(pool.dataset, bundle, pool.tune, pool.workspace, from_scratch=scratch)
            values[PROBE], values[ALIGNMENT] = -found.late, found.alignment
        except TrainError as e:  # a network the trainer cannot fine-tune here
            values[PROBE], values[ALIGNMENT], note = math.nan, math.nan, f"not probed: {e}"
    seconds = time.perf_counter() - started
    entry = SourceScore(name, bundle.spec.name, scores=values, seconds=seconds, note=note)
    return _Scored(entry, features, probabilities)


def _controls(scored: list[_Scored], bundles: list[Bundle], pool: _Pool) -> list[_Scored]:
    """Each source's architecture from scratch (one per network whatever its class count:
    the first such source's, with its input normalisation), scored alike and attached to
    the source as its ``control``; the data estimators are 0: it saw no data."""
    controls: dict[str, _Scored] = {}
    for entry, bundle in zip(scored, bundles, strict=True):
        architecture = bundle.spec.model_dump_json(exclude={"num_classes"})
        if architecture not in controls:
            name = f"{bundle.spec.name} from scratch"
            data = dict.fromkeys((k for k in DATA_ESTIMATORS if k in pool.keys), 0.0)
            model = scratch_model(bundle)
            controls[architecture] = _scored(name, model, bundle, pool, data, scratch=True)
        entry.entry.control = controls[architecture].entry
    return list(controls.values())


def _decide(scored: list[_Scored], controls: list[_Scored], pool: _Pool) -> None:
    """Each source's default score and rank interval (controls in the pool, as rivals) and
    whether it does no better than its control."""
    everyone = [*scored, *controls]
    entries = [s.entry for s in everyone]
    for entry, score in zip(entries, mean_ranks(entries), strict=True):
        entry.score = score
    on_features = dict(zip(map(id, entries), mean_ranks(entries, CONTROL), strict=True))
    for item in scored:
        entry, rival = item.entry, item.entry.control
        if rival is not None:
            worse_features = on_features[id(entry)] <= on_features[id(rival)]
            entry.hurts = worse_features and _trains_worse(entry, rival) is not False
    _intervals(everyone, pool.labels, len(scored))


def _trains_worse(entry: SourceScore, rival: SourceScore) -> bool | None:
    """Whether the probe saw the source's loss end no lower than its control's (within
    :data:`PROBE_MARGIN`); None where the probe did not run."""
    mine, theirs = entry.scores.get(PROBE, math.nan), rival.scores.get(PROBE, math.nan)
    if not (math.isfinite(mine) and math.isfinite(theirs)):
        return None
    return mine <= theirs + PROBE_MARGIN


def _intervals(everyone: list[_Scored], labels: np.ndarray, sources: int) -> None:
    """The sources' rank intervals under the default score over resamples of the images."""
    keys = [key for key in DEFAULT if key in ESTIMATORS]

    def score(rows: np.ndarray) -> list[float]:
        resampled = [
            SourceScore(
                s.entry.source,
                scores=s.entry.scores
                | scores_of(s.features[rows], s.probabilities[rows], labels[rows], keys),
            )
            for s in everyone
        ]
        return mean_ranks(resampled)[:sources]

    for item, interval in zip(everyone[:sources], rank_intervals(labels, score), strict=True):
        item.entry.interval = interval


def classifiers(workspace: Workspace) -> list[str]:
    """The saved models that can be ranked as sources: those of a task that transfers."""
    return [row["name"] for row in list_bundles(workspace) if task_named(row["task"]).transfers]


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
