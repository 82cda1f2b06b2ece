"""Will it fit? The memory a network needs to train and to run, traced from the network.

Weights, gradients and optimiser state are counted from the tensors the trainer's own
optimiser makes. The training figure is the peak of one steady-state training step traced
operation by operation on fake tensors (:mod:`lumos.plan.trace`): every activation autograd
keeps, every gradient buffer of the backward pass, the optimiser's temporaries, at the
batch size asked for, without the memory or the arithmetic. Inference is traced the same
way. Measured against a real step (:mod:`lumos.plan.measure`), the allocator's peak is
within a few per cent of it (docs/BENCHMARKS.md, "Memory planner").

The seeds' rule of thumb is shown beside the figures: 4 bytes a parameter, twice more for
its gradient and momentum, 4 bytes a value twice (the activation and its error) for every
layer output of every image, and a byte a value of the input batch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import cached_property
from typing import Any

from lumos.bundle import Bundle
from lumos.errors import LumosError, NotFoundError
from lumos.models import NetworkSpec
from lumos.models.registry import REGISTRY, default_input
from lumos.plan.hardware import free_memory
from lumos.plan.step import Workload
from lumos.plan.trace import StepBytes, extrapolate, trace, trace_real
from lumos.workspace import Workspace

SECANT_GUESSES = 8  # then halving
FIRST_GUESS = 64
REAL_TRACE_LIMIT = 64  # images in the largest real step a plan runs
SMALLEST_LIMIT = 4  # a real step this small is always run


class PlanError(LumosError):
    """A plan that cannot be made: the message says why."""


@dataclass(frozen=True)
class MemoryPlan(StepBytes):
    """What training and inference of one network at one batch size hold, in bytes."""

    network: str = ""
    input_shape: tuple[int, int, int] = (0, 0, 0)
    batch: int = 0
    optimizer: str = ""
    precision: str = ""

    def as_dict(self) -> dict[str, Any]:
        """Every figure, as ``lumos plan --json`` prints them."""
        return asdict(self) | {
            "rule_of_thumb": self.rule_of_thumb,
            "training_parts": self.training_parts,
        }

    @property
    def rule_of_thumb(self) -> tuple[int, int]:
        """The seeds' estimate: (training, inference) bytes."""
        values = math.prod(self.input_shape)
        train = 4 * self.parameters * 3 + self.batch * self.layer_values * 4 * 2
        return train + self.batch * values, 4 * self.parameters + self.batch * values


def workload(
    network: str | NetworkSpec,
    input_shape: tuple[int, int, int] | None = None,
    *,
    optimizer: str = "sgd",
    precision: str = "fp32",
    num_classes: int = 10,
) -> Workload:
    """A network name (built for ``input_shape`` and ``num_classes``) or a saved model's spec
    (its own input unless ``input_shape`` is given), with an optimiser and an arithmetic."""
    if isinstance(network, str):
        channels, height, width = input_shape or (3, 224, 224)
        network = NetworkSpec.resolve(network, num_classes, channels, (height, width))
    elif input_shape is not None:
        channels, height, width = input_shape
        shape = {"in_channels": channels, "input_size": (height, width)}
        network = network.model_copy(update=shape)
    return Workload(network, optimizer, precision)


def workload_named(
    name: str,
    input_shape: tuple[int, int, int] | None = None,
    *,
    optimizer: str = "sgd",
    precision: str = "fp32",
    num_classes: int = 10,
    workspace: Workspace | None = None,
) -> Workload:
    """The workload of a zoo network (``timm:NAME``, a layer or Python file too; at its own
    input unless ``input_shape`` is given), or else of a saved model (a name in the
    workspace or a bundle file: its network, classes and input)."""
    options = {"optimizer": optimizer, "precision": precision}
    if _is_network(name):
        shape = input_shape or default_input(name)
        return workload(name, shape, num_classes=num_classes, **options)
    try:
        bundle = Bundle.load(name, workspace)
    except NotFoundError:
        raise PlanError(
            f"unknown network or model {name!r}: see `lumos models list` (networks, then "
            "saved models), or use timm:NAME"
        ) from None
    return workload(bundle.spec, input_shape, **options)


def _is_network(name: str) -> bool:
    return name in REGISTRY or name.startswith("timm:") or name.endswith((".yaml", ".yml", ".py"))


def estimate(
    network: str | NetworkSpec,
    input_shape: tuple[int, int, int] | None,
    batches: Sequence[int],
    *,
    optimizer: str = "sgd",
    precision: str = "fp32",
    num_classes: int = 10,
) -> list[MemoryPlan]:
    """A plan for each batch size of ``batches``; ``input_shape`` is (C, H, W)."""
    work = workload(
        network, input_shape, optimizer=optimizer, precision=precision, num_classes=num_classes
    )
    planner = Planner(work)
    return [planner.plan(batch) for batch in batches]


class Planner:
    """Plans of one workload at any batch size, each traced once. A network whose shapes
    follow its data runs a real step at the batch asked, up to :data:`REAL_TRACE_LIMIT`
    images (fewer where such a step would take more than a quarter of this machine's free
    memory); beyond, its figures grow on the line through its two largest real steps."""

    def __init__(self, work: Workload) -> None:
        self.work = work
        self._plans: dict[int, MemoryPlan] = {}
        self._real: dict[int, StepBytes] = {}
        self._follows_data = False

    def plan(self, batch: int) -> MemoryPlan:
        """The traced plan at ``batch``; refused where the network cannot train at it."""
        if batch not in self._plans:
            work = self.work
            try:
                found = self._bytes(batch)
            except (ValueError, RuntimeError) as e:  # the network's own refusal
                shape = "x".join(map(str, work.input_shape))
                raise PlanError(
                    f"{work.spec.name} cannot train at batch {batch} on {shape} images: "
                    f"{str(e).splitlines()[0]}"
                ) from None
            self._plans[batch] = MemoryPlan(
                **asdict(found),
                network=work.spec.name,
                input_shape=work.input_shape,
                batch=batch,
                optimizer=work.optimizer,
                precision=work.precision,
            )
        return self._plans[batch]

    def _bytes(self, batch: int) -> StepBytes:
        found = None if self._follows_data else trace(self.work, batch)
        self._follows_data = found is None
        if found is not None:
            return found
        if batch <= SMALLEST_LIMIT or batch <= self._real_limit:
            return self._real_step(batch)
        half = self._real_limit // 2
        lower, upper = (
            (half, self._real_step(half)),
            (self._real_limit, self._real_step(self._real_limit)),
        )
        return extrapolate(lower, upper, batch)

    def _real_step(self, batch: int) -> StepBytes:
        if batch not in self._real:
            self._real[batch] = trace_real(self.work, batch)
        return self._real[batch]

    @cached_property
    def _real_limit(self) -> int:
        """The largest batch a real step is traced at: :data:`REAL_TRACE_LIMIT`, halved
        while the line through batch 2 and 4 puts it above a quarter of the free memory."""
        two, four = (2, self._real_step(2)), (4, self._real_step(4))
        limit, room = REAL_TRACE_LIMIT, free_memory() // 4
        while limit > SMALLEST_LIMIT and extrapolate(two, four, limit).training > room:
            limit //= 2
        return limit

    def largest_batch(self, memory: int, *, limit: int = 1 << 16) -> int:
        """The largest batch (up to ``limit``) whose training step fits in ``memory`` bytes;
        0 if not even one image does. Each guess is traced (sizes traced before are used
        again): where the line through the traced sizes nearest the answer meets ``memory``
        (a step grows almost linearly with its batch), halving after a few guesses that have
        not closed in."""
        self.plan(1)
        known = {batch: plan.training for batch, plan in self._plans.items() if batch <= limit}
        if known[1] > memory:
            return 0
        fits = max(batch for batch, used in known.items() if used <= memory)
        fails = min((batch for batch, used in known.items() if used > memory), default=limit + 1)
        guesses = 0
        while fails - fits > 1:
            if guesses < SECANT_GUESSES:
                below = max((b for b in known if b < fits), default=fits)
                other = fails if fails in known else below
                guess = min(max(_along_line(known, fits, other, memory), fits + 1), fails - 1)
            else:
                guess = (fits + fails) // 2
            known[guess] = self.plan(guess).training
            fits, fails = (guess, fails) if known[guess] <= memory else (fits, guess)
            guesses += 1
        return fits


def _along_line(known: dict[int, int], fits: int, other: int, memory: int) -> int:
    """The batch where the line through the traced sizes ``fits`` and ``other`` meets
    ``memory`` (the smallest size that failed, else the largest below ``fits``); while only
    one size is traced, a batch large enough for the line to show the growth."""
    if other == fits:
        return FIRST_GUESS
    per_image = (known[other] - known[fits]) / (other - fits)
    return fits + math.floor((memory - known[fits]) / per_image) if per_image > 0 else 2 * fits
