"""How long a ranking may take, and how many target images that buys.

A budget is seconds, or a share of the fine-tuning run the ranking prepares: that run's time
is the planner's estimate (:func:`lumos.plan.forecast.epoch_minutes`: this machine's
measured training speed of each source's network, kept per machine) over the recipe's
epochs. The same speeds price the ranking: a forward pass costs a third of a training step,
a probe step a training step, and each network scored a fixed set-up cost.
"""

from __future__ import annotations

import math
import re
import statistics
from dataclasses import dataclass

from lumos.bundle import Bundle
from lumos.data import Dataset
from lumos.errors import DataError
from lumos.plan.forecast import epoch_minutes, training_speed
from lumos.recipe import Recipe
from lumos.workspace import Workspace

_RECIPE = Recipe.model_fields
SETUP_SECONDS = 0.05  # building, loading and running one network once, whatever its images
MIN_PER_CLASS = 10  # target images a class the estimators are given, whatever the budget


@dataclass(frozen=True)
class FineTune:
    """The fine-tuning run a ranking prepares: what a budget's share is of, and how the
    trainability probe steps (the recipe's defaults unless told)."""

    epochs: int = _RECIPE["epochs"].default
    batch_size: int = _RECIPE["batch_size"].default
    lr: float = _RECIPE["lr"].default
    optimizer: str = _RECIPE["optimizer"].default


@dataclass(frozen=True)
class Budget:
    """``seconds``, or ``share`` of the expected fine-tuning time; neither: no limit."""

    seconds: float | None = None
    share: float | None = None

    @classmethod
    def parse(cls, text: str) -> Budget:
        """``10%`` (of the fine-tuning run), ``30`` or ``30s`` (seconds), or ``none``."""
        spoken = text.strip().lower()
        if spoken in ("none", "unlimited"):
            return cls()
        found = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(%|s)?", spoken)
        if not found or float(found[1]) <= 0 or (found[2] == "%" and float(found[1]) > 100):
            raise DataError(
                None,
                f"budget {text!r}: give seconds (30, 30s), a share of the fine-tuning run "
                "(10%, at most 100%) or none",
            )
        value = float(found[1])
        return cls(share=value / 100) if found[2] == "%" else cls(seconds=value)

    def allowed(self, fine_tune_seconds: float) -> float:
        """The seconds the ranking may take (infinite without a budget)."""
        if self.seconds is not None:
            return self.seconds
        return math.inf if self.share is None else self.share * fine_tune_seconds

    def __str__(self) -> str:
        if self.seconds is not None:
            return f"{self.seconds:g} s"
        return "none" if self.share is None else f"{self.share:.0%} of the fine-tuning run"


DEFAULT_BUDGET_TEXT = "10%"  # as asked for: a tenth of the fine-tuning run
DEFAULT_BUDGET = Budget.parse(DEFAULT_BUDGET_TEXT)
DEFAULT_TUNE = FineTune()


@dataclass(frozen=True)
class Prices:
    """What each network costs here: seconds a training image (the planner's measured
    speed), and the fine-tuning run's expected seconds (the median over the networks)."""

    per_image: dict[str, float]  # training step seconds an image, by network
    fine_tune_seconds: float

    def images_for(self, seconds: float, scored: list[str], probe_images: int) -> float:
        """How many target images each of the ``scored`` networks (one entry each) can
        pass forward in ``seconds``, after their set-up and ``probe_images`` training
        images each."""
        fixed = sum(SETUP_SECONDS + probe_images * self.per_image[n] for n in scored)
        forward = sum(self.per_image[n] / 3 for n in scored)
        return (seconds - fixed) / forward


def prices(bundles: list[Bundle], target: Dataset, tune: FineTune, workspace: Workspace) -> Prices:
    """The planner's prices of each network of ``bundles`` on dataset ``target``."""
    per_image, runs = {}, []
    for bundle in bundles:
        network = bundle.spec.name
        if network in per_image:
            continue
        size, root = bundle.preprocessing.input_size, workspace.root
        per_image[network] = 1 / training_speed(network, target, size, tune.optimizer, root)
        runs.append(60 * tune.epochs * epoch_minutes(network, target, size, tune.optimizer, root))
    return Prices(per_image, statistics.median(runs))
