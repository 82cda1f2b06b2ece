"""Assigning records to train / val / test: given by the source, or by stratified percentages."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from lumos.data.records import SPLITS


def assign_splits(
    given: Sequence[str | None],
    strata: Sequence[str],
    *,
    val_percent: float,
    test_percent: float,
    seed: int,
    stratify: bool = True,
) -> list[str]:
    """The split of each record.

    A split the source gives is kept. Percentages fill the splits the source does not
    give, taking records from the unsplit ones and from the given train split; within
    each stratum (class) the same share goes to each split, chosen at random by ``seed``.
    """
    present = {s for s in given if s is not None}
    wanted = {
        "val": 0.0 if "val" in present else val_percent,
        "test": 0.0 if "test" in present else test_percent,
    }
    out = [s if s is not None else "train" for s in given]
    pool = [i for i, s in enumerate(given) if s in (None, "train")]
    if not pool or (wanted["val"] <= 0 and wanted["test"] <= 0):
        return out
    groups: dict[str, list[int]] = defaultdict(list)
    for i in pool:
        groups[strata[i] if stratify else ""].append(i)
    rng = np.random.default_rng(seed)
    for key in sorted(groups):
        members = np.array(groups[key])
        rng.shuffle(members)
        n = len(members)
        n_val = round(n * wanted["val"] / 100)
        n_test = round(n * wanted["test"] / 100)
        if n_val + n_test >= n and n > 1:  # keep at least one training example per class
            n_test = min(n_test, max(0, n - 1 - n_val))
            n_val = min(n_val, n - 1)
        for i in members[:n_val]:
            out[i] = "val"
        for i in members[n_val : n_val + n_test]:
            out[i] = "test"
    return out


def split_codes(splits: Sequence[str]) -> np.ndarray:
    lookup = {name: code for code, name in enumerate(SPLITS)}
    return np.array([lookup[s] for s in splits], dtype=np.uint8)
