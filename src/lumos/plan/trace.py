"""The bytes of one training step and one inference, traced operation by operation.

The step runs on fake tensors (``FakeTensorMode``: shapes, dtypes and strides, no data and
no memory), so a batch of any size costs nothing to trace. A ``TorchDispatchMode`` sees
every tensor each operation makes; a storage counts from its first tensor until it is
freed (a weak reference to the storage says when), so views and in-place results are not
counted twice. The steady-state step is traced: the optimiser's state exists from a step
before, the gradients were set to None.

A network whose shapes depend on its data (a detector's boxes, its non-maximum
suppression) cannot run on fake tensors: it is traced on real ones at batch 1 and 2, and
each figure grows linearly with the batch from there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from typing import TypeVar

import torch
from torch._subclasses.fake_tensor import (
    DataDependentOutputException,
    DynamicOutputShapeException,
    FakeTensorMode,
)
from torch.multiprocessing.reductions import StorageWeakRef
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves
from torch.utils.flop_counter import FlopCounterMode

from lumos.plan.step import TrainingStep, Workload, nbytes

DATA_DEPENDENT = (DataDependentOutputException, DynamicOutputShapeException)
T = TypeVar("T")


@dataclass(frozen=True)
class StepBytes:
    """What one batch size holds, in bytes (``layer_values`` a count: every layer's output
    values for one image)."""

    parameters: int
    weights: int
    gradients: int
    optimizer_state: int
    activations: int  # saved by autograd for the backward pass
    inputs: int
    training: int  # the peak of the step
    inference: int  # the peak of an inference forward
    layer_values: int
    extrapolated: bool = field(default=False, compare=False)  # from real steps at batch 1, 2


class LiveTensorBytes(TorchDispatchMode):
    """The largest sum of live storages made under this mode (``peak``, bytes); storages
    in ``held`` existed before (weights changed in place are not new)."""

    def __init__(self, held: list[torch.Tensor]) -> None:
        super().__init__()
        self.held = {_key(t.untyped_storage()) for t in held}
        self.live: dict[int, tuple[StorageWeakRef, int]] = {}
        self.peak = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        result = func(*args, **(kwargs or {}))
        self.live = {k: v for k, v in self.live.items() if not v[0].expired()}
        for tensor in tree_leaves(result):
            if isinstance(tensor, torch.Tensor):
                storage = tensor.untyped_storage()
                key = _key(storage)
                if key not in self.live and key not in self.held:
                    self.live[key] = (StorageWeakRef(storage), storage.nbytes())
        self.peak = max(self.peak, sum(size for _, size in self.live.values()))
        return result


def trace(work: Workload, batch: int) -> StepBytes | None:
    """The bytes of ``work`` at ``batch``, traced on fake tensors; None for a network whose
    shapes follow its data."""
    return _on_fake_tensors(lambda: _traced(TrainingStep(work, batch)))


def trace_real(work: Workload, batch: int) -> StepBytes:
    """The bytes of ``work`` at ``batch``, traced on real tensors."""
    return _traced(TrainingStep(work, batch))


def extrapolate(one: StepBytes, two: StepBytes, batch: int) -> StepBytes:
    """Each figure at ``batch``, growing linearly from its value at batch 1 (``one``) and 2."""
    names = [f.name for f in fields(StepBytes) if f.name != "extrapolated"]
    grown = {name: getattr(two, name) - getattr(one, name) for name in names}
    return StepBytes(
        **{name: getattr(one, name) + (batch - 1) * more for name, more in grown.items()},
        extrapolated=True,
    )


def step_flops(work: Workload) -> int:
    """Floating-point operations of one training step (forward and backward) for one image,
    counted operator by operator (multiply and add counted apart)."""
    found = _on_fake_tensors(lambda: _flops(TrainingStep(work, 1)))
    return found if found is not None else _flops(TrainingStep(work, 1))


def _on_fake_tensors(measure: Callable[[], T]) -> T | None:
    """``measure()`` on fake tensors; None if the network's shapes follow its data."""
    try:
        with FakeTensorMode():
            return measure()
    except DATA_DEPENDENT:
        return None


def _flops(step: TrainingStep) -> int:
    with FlopCounterMode(display=False) as counter:
        step()
    return counter.get_total_flops()


def _traced(step: TrainingStep) -> StepBytes:
    step()  # the optimiser's state now exists
    weights, state = step.weights(), step.optimizer_state()
    saved: dict[int, int] = {}
    held_before = {_key(t.untyped_storage()) for t in step.held()}
    recording = _saved(saved, held_before)
    with recording, _layer_values(step) as values, LiveTensorBytes(step.held()) as live:
        step()
    held = sum(nbytes(t) for t in step.held())
    with LiveTensorBytes(step.held()) as inferring:
        step.infer()
    return StepBytes(
        parameters=step.parameters(),
        weights=weights,
        gradients=step.gradients(),
        optimizer_state=state,
        activations=sum(saved.values()),
        inputs=nbytes(step.images),
        training=held + live.peak,
        inference=held - state + inferring.peak,
        layer_values=sum(values) // len(step.images),
    )


@contextmanager
def _saved(stored: dict[int, int], held: set[int]) -> Iterator[None]:
    """Record each storage autograd saves (once), but not those ``held`` (the weights')."""

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        if _key(storage) not in held:
            stored[_key(storage)] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        yield


@contextmanager
def _layer_values(step: TrainingStep) -> Iterator[list[int]]:
    """The output values of every leaf layer's calls."""
    values: list[int] = []

    def hook(module: torch.nn.Module, args: tuple, output: object) -> None:
        values.extend(t.numel() for t in tree_leaves(output) if isinstance(t, torch.Tensor))

    leaves = [m for m in step.model.modules() if not list(m.children())]
    handles = [m.register_forward_hook(hook) for m in leaves]
    try:
        yield values
    finally:
        for handle in handles:
            handle.remove()


def _key(storage: torch.UntypedStorage) -> int:
    """A storage's identity while it lives (its address is 0 on fake tensors)."""
    return StorageWeakRef(storage).cdata
