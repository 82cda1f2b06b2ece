"""One training step of a network on stand-in data: what a plan traces on fake tensors and
what a measurement runs for real.

The step is the trainer's: the recipe's optimiser (:func:`lumos.train.finetune.optimizer`,
momentum and the weight-decay groups included), the task's loss, the recipe's arithmetic
(bf16 or fp16 autocast), gradients set to None after the update.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch

from lumos.models import NetworkSpec, build_network
from lumos.recipe import Recipe
from lumos.tasks import Task, task_of
from lumos.train.finetune import optimizer as recipe_optimizer

AUTOCAST = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass(frozen=True)
class Workload:
    """What a plan is for: a network (input shape and classes in its spec), an optimiser
    and an arithmetic."""

    spec: NetworkSpec
    optimizer: str = "sgd"
    precision: str = "fp32"

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self.spec.in_channels, *self.spec.input_size)

    @property
    def task(self) -> Task:
        return task_of(self.spec.name)


class TrainingStep:
    """The network, its optimiser and an input batch of ``batch`` images, made on the
    current device and tensor mode (a ``FakeTensorMode`` makes them fake)."""

    def __init__(self, work: Workload, batch: int, device: str = "cpu") -> None:
        self.work = work
        with torch.random.fork_rng(devices=[]):
            self.model = build_network(work.spec, trust_code=False)
        if device != "cpu":  # (moving fake weights would swap them for real ones)
            self.model.to(device)
        recipe = Recipe(dataset="plan", network=work.spec.name, optimizer=work.optimizer)
        self.solver = recipe_optimizer(recipe, self.model)
        self.images = torch.rand(batch, *work.input_shape, device=device)

    def __call__(self) -> None:
        """Forward, backward, update; the gradients set to None after it."""
        with autocast(self.work.precision, self.images.device.type):
            loss = self.work.task.example_loss(self.model.train(), self.images)
        loss.backward()
        self.solver.step()
        self.solver.zero_grad(set_to_none=True)

    def infer(self) -> None:
        """An inference forward."""
        with torch.no_grad(), autocast(self.work.precision, self.images.device.type):
            self.model.eval()(self.images)

    def held(self) -> list[torch.Tensor]:
        """What lives through every step: weights, buffers, the optimiser's state, the batch."""
        state = self.solver.state.values()
        kept = [v for s in state for v in s.values() if isinstance(v, torch.Tensor)]
        return [*self.model.parameters(), *self.model.buffers(), *kept, self.images]

    def optimizer_state(self) -> int:
        """Bytes of the optimiser's state (after a first step has made it)."""
        state = self.solver.state.values()
        return sum(nbytes(v) for s in state for v in s.values() if isinstance(v, torch.Tensor))

    def weights(self) -> int:
        """Bytes of the weights and buffers."""
        return sum(nbytes(t) for t in (*self.model.parameters(), *self.model.buffers()))

    def gradients(self) -> int:
        """Bytes of the gradients the backward pass makes."""
        return sum(nbytes(p) for p in self.model.parameters() if p.requires_grad)

    def parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters())


def nbytes(tensor: torch.Tensor) -> int:
    return tensor.numel() * tensor.element_size()


@contextmanager
def autocast(precision: str, device: str = "cpu") -> Iterator[None]:
    """Autocast to ``precision`` on ``device`` (fp32: none)."""
    dtype = AUTOCAST[precision]
    with torch.autocast(device, dtype=dtype or torch.bfloat16, enabled=dtype is not None):
        yield
