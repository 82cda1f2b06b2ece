"""The trainability probe: the first steps of the fine-tuning run itself, started from a
source and from its network's fresh weights, on the target's training images.

Features show what a source already tells apart, not how it trains: a source whose features
are better than random can still send the loss up when its body starts to learn (gratings
on glyphs did, to chance). The probe runs the real trainer (the recipe's optimiser, rate
and precision, the head fitted to the target's classes as a fine-tuning run fits it) for a
few steps and keeps each step's loss, over the loss of guessing (log of the classes), and
how well each step's gradient agrees with the step's before (their cosine): batches that
pull the weights the same way descend together, batches that disagree fight.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

import torch
from torch import nn

from lumos.bundle import Bundle
from lumos.data import Dataset
from lumos.train import Recipe, Trainer
from lumos.train.trainer import Callback, StopTraining
from lumos.transfer.budget import FineTune
from lumos.workspace import Workspace

STEPS = 6  # probe steps a network


@dataclass(frozen=True)
class Trainability:
    """Each probe step's training loss over the loss of guessing (1: chance), and the
    cosine between each step's gradient and the step's before (from the second step)."""

    losses: tuple[float, ...]
    agreement: tuple[float, ...] = ()

    @property
    def late(self) -> float:
        """The mean relative loss of the last half of the steps: lower trains better."""
        return statistics.fmean(self.losses[len(self.losses) // 2 :])

    @property
    def alignment(self) -> float:
        """The mean cosine between successive steps' gradients: higher descends together."""
        return statistics.fmean(self.agreement) if self.agreement else math.nan


class GradientAgreement:
    """The cosine between each backward pass's gradient and the one before, summed over the
    parameters as their gradients arrive (no flattened copy of the whole gradient)."""

    def __init__(self, model: nn.Module) -> None:
        self._last: dict[nn.Parameter, torch.Tensor] = {}
        self._sums = torch.zeros(3, dtype=torch.float64)  # <g, last>, |g|^2, |last|^2
        self._handles = [
            p.register_post_accumulate_grad_hook(self._arrived)
            for p in model.parameters()
            if p.requires_grad
        ]

    def _arrived(self, parameter: nn.Parameter) -> None:
        grad = parameter.grad.detach().float()  # type: ignore[union-attr]
        last = self._last.get(parameter)
        if last is not None:
            self._sums += torch.stack(
                [(grad * last).sum(), grad.square().sum(), last.square().sum()]
            ).double()
        self._last[parameter] = grad.clone()

    def cosine(self) -> float | None:
        """The last step's cosine with the one before (None after the first step)."""
        dot, mine, theirs = self._sums.tolist()
        self._sums.zero_()
        return dot / math.sqrt(mine * theirs) if mine and theirs else None

    def remove(self) -> None:
        """Stop listening to the model's gradients."""
        for handle in self._handles:
            handle.remove()


class _Steps(Callback):
    """Keeps each batch's mean loss and its gradient's agreement with the batch's before;
    stops the run after ``steps`` of them."""

    def __init__(self, steps: int) -> None:
        self.steps, self.losses, self.agreement = steps, [], []
        self._before = (0.0, 0.0)
        self._gradients: GradientAgreement | None = None  # the trainer's model's, once fitting

    def before_fit(self, trainer: Trainer) -> None:
        self._gradients = GradientAgreement(trainer.model)

    def before_epoch(self, trainer: Trainer) -> None:
        self._before = (0.0, 0.0)  # the epoch's sums start again

    def after_batch(self, trainer: Trainer) -> None:
        sums = trainer.state.sums
        loss, seen = sums["loss"] - self._before[0], sums["seen"] - self._before[1]
        self._before = (sums["loss"], sums["seen"])
        self.losses.append(loss / max(seen, 1))
        assert self._gradients is not None  # made before the first batch
        cosine = self._gradients.cosine()
        if cosine is not None:
            self.agreement.append(cosine)
        if len(self.losses) >= self.steps:
            raise StopTraining

    def after_fit(self, trainer: Trainer) -> None:
        if self._gradients is not None:
            self._gradients.remove()


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
    seen = _Steps(steps)
    Trainer(recipe, target, callbacks=(seen,), workspace=workspace).fit()
    chance = math.log(len(target.classes))
    return Trainability(tuple(loss / chance for loss in seen.losses), tuple(seen.agreement))
