"""Where a run is (saved in every checkpoint) and the seed each epoch draws from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class TrainState:
    """Where a run is; saved in every checkpoint."""

    epoch: int = 0  # epochs completed
    step: int = 0  # optimiser steps taken
    position: int = 0  # batches done in the current epoch
    best: float | None = None
    best_epoch: int | None = None
    history: list[dict[str, float]] = field(default_factory=list)
    sums: dict[str, float] = field(default_factory=dict)  # running train totals of the epoch

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def epoch_seed(seed: int, epoch: int) -> int:
    """The seed of epoch ``epoch``'s batch order, augmentation and dropout."""
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0])
