"""Learning-rate policies, per optimiser step, with linear warmup in front of any of them.

Every policy except ``plateau`` is a pure function of the step, so a resumed run gets exactly
the rate it would have had; ``plateau`` ("divide by 10 when validation stops improving")
keeps its state in the checkpoint.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from lumos.recipe import Recipe


@dataclass
class Schedule:
    """The learning rate at each optimiser step of a run."""

    recipe: Recipe
    steps_per_epoch: int
    # The step a run ends at before its epochs do (a time limit): the trainer closes its
    # epoch there, validated and checkpointed, and the rate follows it.
    last_step: int | None = None
    plateau_scale: float = 1.0
    _best: float | None = field(default=None, repr=False)
    _bad_epochs: int = field(default=0, repr=False)

    @property
    def asked_steps(self) -> int:
        """The steps of the recipe's epochs."""
        return self.recipe.epochs * self.steps_per_epoch

    @property
    def total_steps(self) -> int:
        """The steps the run takes: the recipe's, or fewer where it ends before them."""
        if self.last_step is None:
            return self.asked_steps
        return min(self.last_step, self.asked_steps)

    def over(self, step: int) -> bool:
        """Whether the run has reached the step it ends at before its epochs do."""
        return self.last_step is not None and step >= self.last_step

    def rate(self, step: int) -> float:
        r = self.recipe
        warmup = round(r.warmup_epochs * self.steps_per_epoch)
        if step < warmup:
            return r.lr * (step + 1) / warmup
        epoch = step / self.steps_per_epoch
        progress = (step - warmup) / max(1, self.total_steps - warmup)
        factor = {
            "fixed": lambda: 1.0,
            "step": lambda: r.gamma ** math.floor(epoch / r.step_size),
            "multistep": lambda: r.gamma ** sum(epoch >= m for m in r.milestones),
            "exponential": lambda: r.gamma**epoch,
            "polynomial": lambda: (1 - progress) ** r.power,
            "cosine": lambda: 0.5 * (1 + math.cos(math.pi * progress)),
            "onecycle": lambda: _one_cycle(progress),
            "plateau": lambda: self.plateau_scale,
        }[r.lr_policy]()
        return max(r.min_lr, r.lr * factor)

    def observe(self, value: float, *, maximise: bool) -> None:
        """Feed the validation metric after an epoch (only ``plateau`` uses it)."""
        if self.recipe.lr_policy != "plateau":
            return
        better = self._best is None or (value > self._best if maximise else value < self._best)
        if better:
            self._best, self._bad_epochs = value, 0
            return
        self._bad_epochs += 1
        if self._bad_epochs > self.recipe.plateau_patience:
            self.plateau_scale *= self.recipe.gamma
            self._bad_epochs = 0

    def state(self) -> dict[str, float | int | None]:
        return {
            "plateau_scale": self.plateau_scale,
            "best": self._best,
            "bad_epochs": self._bad_epochs,
        }

    def restore(self, state: dict) -> None:
        self.plateau_scale = float(state["plateau_scale"])
        self._best = state["best"]
        self._bad_epochs = int(state["bad_epochs"])


def _one_cycle(progress: float) -> float:
    """Up from lr/25 to lr over the first 30%, then cosine down to lr/1e4 (Smith's one-cycle)."""
    if progress < 0.3:
        return 1 / 25 + (1 - 1 / 25) * (1 - math.cos(math.pi * progress / 0.3)) / 2
    tail = (progress - 0.3) / 0.7
    return 1e-4 + (1 - 1e-4) * (1 + math.cos(math.pi * tail)) / 2


def lr_curve(
    recipe: Recipe, steps_per_epoch: int = 100, points: int = 200
) -> list[tuple[float, float]]:
    """(epoch, learning rate) at ``points`` evenly spaced steps of the run: the schedule's plot.

    ``plateau`` is drawn flat: its drops depend on the validation metric.
    """
    schedule = Schedule(recipe, steps_per_epoch)
    total = schedule.total_steps
    steps = sorted({round(i * (total - 1) / max(points - 1, 1)) for i in range(points)})
    return [(step / steps_per_epoch, schedule.rate(step)) for step in steps]
