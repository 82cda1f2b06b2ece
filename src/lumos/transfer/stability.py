"""How settled a ranking is: each source's rank over resamples of the target's scored
images, as an interval. Each resample keeps a share of every class's images, drawn without
replacement: a repeated image would be its own nearest neighbour to k-NN.

A ranking from few images can put its first source first by chance; where the intervals
of the first and the next overlap, the answer is not yet stable: more images (a larger
budget) would settle it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy.stats import rankdata

RESAMPLES = 20
SHARE = 0.8  # of each class's images a resample keeps
LOW, HIGH = 5, 95  # percentiles of the ranks an interval spans

Score = Callable[[np.ndarray], Sequence[float]]  # rows of the sample -> each source's score


def rank_intervals(
    labels: np.ndarray, score: Score, resamples: int = RESAMPLES, seed: int = 0
) -> list[tuple[int, int]]:
    """Each source's (best, worst) rank, 1 = first, between the :data:`LOW` and
    :data:`HIGH` percentiles of its rank under ``score`` over ``resamples`` resamples."""
    rng = np.random.default_rng(seed)
    classes = [np.flatnonzero(labels == label) for label in np.unique(labels)]
    ranks = []
    for _ in range(resamples):
        rows = np.concatenate([_share(m, rng) for m in classes])
        ranks.append(rankdata(-np.asarray(score(np.sort(rows))), method="min"))
    low, high = np.percentile(np.array(ranks), [LOW, HIGH], axis=0, method="nearest")
    return [(int(a), int(b)) for a, b in zip(low, high, strict=True)]


def _share(members: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """:data:`SHARE` of one class's rows (at least two, or all it has), without replacement."""
    kept = min(len(members), max(2, round(SHARE * len(members))))
    return rng.choice(members, kept, replace=False)
