"""The bytes of one training step and one inference, traced operation by operation.

The step runs on fake tensors (``FakeTensorMode``: shapes, dtypes and strides, no data and
no memory), so a batch of any size costs nothing to trace. A ``TorchDispatchMode`` sees
every tensor each operation makes; a storage counts from its first tensor until it is
freed (a weak reference to the storage says when), so views and in-place results are not
counted twice. The steady-state step is traced: the optimiser's state exists from a step
before, the gradients were set to None.

The peak is split into what was live at that moment: the weights, the optimiser's state and
the input batch (held through every step), the activations autograd had saved, the
gradients accumulated so far, and the rest (the step's working buffers); the parts add up
to the peak. A convolution's kernel allocates buffers of its own that no operator returns;
they are measured on this machine (:mod:`lumos.plan.kernels`) and counted while it runs:
of the working buffers, ``kernel_buffers`` is that measured part, the rest is traced. The
activations are not all alive with all the gradients: the backward pass frees the one as it
makes the other.

A network whose shapes depend on its data (a detector's boxes, its non-maximum
suppression) cannot run on fake tensors: it is traced on real ones
(:class:`lumos.plan.memory.Planner` says at which batch sizes).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace
from typing import Literal, TypeVar

import torch
from torch._subclasses.fake_tensor import (
    DataDependentOutputException,
    DynamicOutputShapeException,
    FakeTensorMode,
)
from torch.multiprocessing.reductions import StorageWeakRef
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

from lumos.plan.kernels import kernel_buffers, kernel_key
from lumos.plan.step import TrainingStep, Workload, nbytes

DATA_DEPENDENT = (DataDependentOutputException, DynamicOutputShapeException)
# How a figure was found: on fake tensors, by a real step at the batch, or on the line
# through real steps at two other batch sizes.
Traced = Literal["traced", "real step", "grown from real steps"]
T = TypeVar("T")


@dataclass(frozen=True)
class StepBytes:
    """What one batch size holds, in bytes (``layer_values`` a count: every layer's output
    values for one image)."""

    parameters: int
    weights: int
    gradients: int
    optimizer_state: int
    activations: int  # the most autograd holds at once for the backward pass
    inputs: int
    training: int  # the peak of the step
    inference: int  # the peak of an inference forward
    layer_values: int
    # The training peak = weights + optimizer_state + inputs + the three below, live then.
    peak_activations: int = 0
    peak_gradients: int = 0
    peak_working: int = 0  # the step's other buffers: the backward's, the optimiser's
    kernel_buffers: int = 0  # of them, what the kernel running then made for itself (measured)
    training_least: int = 0  # the peak if each kernel's buffers took the least they may
    inference_working: int = 0  # inference = weights + inputs + this
    how: Traced = field(default="traced", compare=False)

    @property
    def training_parts(self) -> dict[str, int]:
        """What the training peak holds, part by part (they add up to it)."""
        return {
            "weights": self.weights, "optimizer_state": self.optimizer_state,
            "inputs": self.inputs, "activations": self.peak_activations,
            "gradients": self.peak_gradients, "working": self.peak_working,
        }  # fmt: skip


Storages = dict[int, StorageWeakRef]  # storages by identity: saved ones, gradients


class LiveTensorBytes(TorchDispatchMode):
    """The largest sum of live storages made under this mode (``peak``, bytes), a
    convolution's own buffers counted while it runs (``buffers``: those at the peak,
    :mod:`lumos.plan.kernels`; ``least``: the peak with each at the least it may take), and
    of those among them in ``saved`` (``most_saved``);
    ``at_peak``: the bytes of ``saved`` and of ``gradients`` live at the peak. Storages in
    ``held`` existed before (weights changed in place are not new)."""

    def __init__(
        self, held: list[torch.Tensor], saved: Storages | None = None,
        gradients: Storages | None = None,
    ) -> None:  # fmt: skip
        super().__init__()
        self.held = {_key(t.untyped_storage()) for t in held}
        self.saved = {} if saved is None else saved  # filled while the step runs
        self.gradients = {} if gradients is None else gradients
        self.live: dict[int, tuple[StorageWeakRef, int]] = {}
        self.peak = self.most_saved = 0
        self.at_peak = (0, 0)
        self.buffers = 0  # of the kernel running at the peak, for itself
        self.least = 0  # the peak with each kernel's buffers at their least

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        result = func(*args, **(kwargs or {}))
        self.live = {k: v for k, v in self.live.items() if not v[0].expired()}
        for tensor in tree_leaves(result):
            if isinstance(tensor, torch.Tensor):
                storage = tensor.untyped_storage()
                key = _key(storage)
                if key not in self.live and key not in self.held:
                    self.live[key] = (StorageWeakRef(storage), storage.nbytes())
        total = saved = 0
        for key, (_, size) in self.live.items():  # one pass an operation: this is the hot path
            total += size
            if self._is(key, self.saved):
                saved += size
        self.most_saved = max(self.most_saved, saved)
        kernel = kernel_key(func, args)
        least, most = (0, 0) if kernel is None else kernel_buffers(*kernel)  # while it ran
        self.least = max(self.least, total + least)
        if total + most > self.peak:
            made = [size for key, (_, size) in self.live.items() if self._is(key, self.gradients)]
            self.peak, self.at_peak, self.buffers = total + most, (saved, sum(made)), most
        return result

    @staticmethod
    def _is(key: int, kind: Storages) -> bool:
        """Whether live storage ``key`` is one of ``kind`` (alive there too: the same one)."""
        return key in kind and not kind[key].expired()


def trace(work: Workload, batch: int) -> StepBytes | None:
    """The bytes of ``work`` at ``batch``, traced on fake tensors; None for a network whose
    shapes follow its data."""
    return _on_fake_tensors(lambda: _traced(TrainingStep(work, batch)))


def trace_real(work: Workload, batch: int) -> StepBytes:
    """The bytes of ``work`` at ``batch``, traced on real tensors."""
    return replace(_traced(TrainingStep(work, batch)), how="real step")


def extrapolate(
    lower: tuple[int, StepBytes], upper: tuple[int, StepBytes], batch: int
) -> StepBytes:
    """Each figure at ``batch``, on the line through its values at two batch sizes (each a
    (batch, bytes) pair); the parts still add up."""
    (small, below), (large, above) = lower, upper
    names = [f.name for f in fields(StepBytes) if f.name != "how"]
    grown = {
        name: (getattr(above, name) - getattr(below, name)) / (large - small) for name in names
    }
    at = {
        name: getattr(below, name) + round((batch - small) * more) for name, more in grown.items()
    }
    # Each figure rounded to a byte: the working buffers take what makes the parts add up.
    at["peak_working"] = at["training"] - sum(
        at[name] for name in ("weights", "optimizer_state", "inputs", "peak_activations",
                              "peak_gradients")
    )  # fmt: skip
    at["inference_working"] = at["inference"] - at["weights"] - at["inputs"]
    return StepBytes(**at, how="grown from real steps")


def _on_fake_tensors(measure: Callable[[], T]) -> T | None:
    """``measure()`` on fake tensors; None if the network's shapes follow its data."""
    try:
        with FakeTensorMode():
            return measure()
    except DATA_DEPENDENT:
        return None


def _traced(step: TrainingStep) -> StepBytes:
    step()  # the optimiser's state now exists
    weights, state = step.weights(), step.optimizer_state()
    saved: Storages = {}
    gradients: Storages = {}
    recording = _recorded(step, saved, gradients)
    live = LiveTensorBytes(step.held(), saved, gradients)
    with recording, _layer_values(step) as values, live:
        step()
    with LiveTensorBytes(step.held()) as inferring:
        step.infer()
    inputs = nbytes(step.images)
    activations, grown = live.at_peak
    return StepBytes(
        parameters=step.parameters(),
        weights=weights,
        gradients=step.gradients(),
        optimizer_state=state,
        activations=live.most_saved,
        inputs=inputs,
        training=weights + state + inputs + live.peak,
        inference=weights + inputs + inferring.peak,
        layer_values=sum(values) // len(step.images),
        peak_activations=activations,
        peak_gradients=grown,
        peak_working=live.peak - activations - grown,
        kernel_buffers=live.buffers,
        training_least=weights + state + inputs + live.least,
        inference_working=inferring.peak,
    )


@contextmanager
def _recorded(step: TrainingStep, saved: Storages, gradients: Storages) -> Iterator[None]:
    """Record each storage autograd saves and each gradient accumulated into a parameter."""

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        saved[_key(storage)] = StorageWeakRef(storage)
        return tensor

    def accumulated(parameter: torch.Tensor) -> None:
        storage = parameter.grad.untyped_storage()
        gradients[_key(storage)] = StorageWeakRef(storage)

    parameters = [p for p in step.model.parameters() if p.requires_grad]
    handles = [p.register_post_accumulate_grad_hook(accumulated) for p in parameters]
    try:
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
            yield
    finally:
        for handle in handles:
            handle.remove()


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
