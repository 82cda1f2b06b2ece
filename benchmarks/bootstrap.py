"""95% bootstrap intervals for comparisons on small splits.

Each resample draws the seeds and the images with replacement, together, so an interval
holds both the luck of the split and the luck of the seed. Two systems scored on the same
resamples also give the interval of their difference (paired). Two intervals that overlap
are reported as "not distinguishable".
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Score = Callable[[np.ndarray, np.ndarray], float]  # (image indices, seed indices) -> score


def intervals(
    scores: dict[str, Score], images: int, seeds: int, *, resamples: int = 1000, seed: int = 0
) -> dict[str, tuple[float, float]]:
    """The 2.5th and 97.5th percentiles of each score over the same resamples; with two
    scores, also of their difference under the key "A - B"."""
    rng = np.random.default_rng(seed)
    drawn = {name: [] for name in scores}
    for _ in range(resamples):
        picked_seeds = rng.integers(0, seeds, seeds)
        picked_images = rng.integers(0, images, images)
        for name, score in scores.items():
            drawn[name].append(score(picked_images, picked_seeds))
    if len(scores) == 2:
        first, second = scores
        drawn[f"{first} - {second}"] = list(np.subtract(drawn[first], drawn[second]))
    return {name: tuple(np.percentile(values, [2.5, 97.5])) for name, values in drawn.items()}


def verdict(first: str, second: str, found: dict[str, tuple[float, float]]) -> str:
    """Which of two systems scores higher, or "not distinguishable" when their intervals
    overlap (the conservative reading); the paired difference's interval is said beside it."""
    (low_a, high_a), (low_b, high_b) = found[first], found[second]
    if low_a > high_b:
        said = f"{first} higher"
    elif low_b > high_a:
        said = f"{second} higher"
    else:
        said = "not distinguishable (the intervals overlap)"
    low, high = found[f"{first} - {second}"]
    paired = "holds 0" if low <= 0 <= high else "excludes 0"
    return f"{said}; the paired difference's interval [{low:.3f}, {high:.3f}] {paired}"
