"""The trainability probe: the first steps of the fine-tuning run itself, started from a
source and from its network's fresh weights, on the target's training images.

Features show what a source already tells apart, not how it trains: a source whose features
are better than random can still send the loss up when its body starts to learn (gratings
on glyphs did, to chance). The probe runs the real trainer (the recipe's optimiser, rate
and precision, the head fitted to the target's classes as a fine-tuning run fits it) for a
few steps and keeps each step's loss, over the loss of guessing (log of the classes).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from lumos.bundle import Bundle
from lumos.data import Dataset
from lumos.train import Recipe, Trainer
from lumos.train.trainer import Callback, StopTraining
from lumos.transfer.budget import FineTune
from lumos.workspace import Workspace

STEPS = 6  # probe steps a network


@dataclass(frozen=True)
class Trainability:
    """Each probe step's training loss over the loss of guessing (1: chance)."""

    losses: tuple[float, ...]

    @property
    def late(self) -> float:
        """The mean relative loss of the last half of the steps: lower trains better."""
        return statistics.fmean(self.losses[len(self.losses) // 2 :])


class _Losses(Callback):
    """Keeps each batch's mean loss and stops the run after ``steps`` of them."""

    def __init__(self, steps: int) -> None:
        self.steps, self.losses, self._before = steps, [], (0.0, 0.0)

    def before_epoch(self, trainer: Trainer) -> None:
        self._before = (0.0, 0.0)  # the epoch's sums start again

    def after_batch(self, trainer: Trainer) -> None:
        sums = trainer.state.sums
        loss, seen = sums["loss"] - self._before[0], sums["seen"] - self._before[1]
        self._before = (sums["loss"], sums["seen"])
        self.losses.append(loss / max(seen, 1))
        if len(self.losses) >= self.steps:
            raise StopTraining


def probe(
    target: Dataset,
    source: Bundle,
    tune: FineTune,
    workspace: Workspace,
    *,
    from_scratch: bool = False,
    steps: int = STEPS,
) -> Trainability:
    """The first ``steps`` of fine-tuning ``source`` (with ``from_scratch``: its network,
    freshly initialised) on ``target`` as ``tune`` says, at the source's input size."""
    train = len(target.split("train"))
    recipe = Recipe(
        dataset=target.name,
        network=source.spec.name,
        init=None if from_scratch else source.meta.name,
        input_size=source.preprocessing.input_size,
        epochs=tune.epochs,
        batch_size=min(tune.batch_size, train),
        lr=tune.lr,
        optimizer=tune.optimizer,
        workers=0,
        seed=0,
    )
    losses = _Losses(steps)
    Trainer(recipe, target, callbacks=(losses,), workspace=workspace).fit()
    chance = math.log(len(target.classes))
    return Trainability(tuple(loss / chance for loss in losses.losses))
