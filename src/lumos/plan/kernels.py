"""What the operator trace cannot see: the buffers a convolution's kernel allocates for
itself while it runs (oneDNN's reordered copies of its input and gradient on a CPU, im2col
columns where it falls back to them), freed before it returns.

They differ by machine (a CPU with AMX blocks its data otherwise than one without), so they
are measured here: each convolution the trace dispatches is run on real tensors at the
batch (``torch.profiler`` with ``profile_memory``: every allocation and free), its buffers
being the peak of what it allocated less the outputs it returned. Beyond eight images they
are an interval: from their size at eight to the line through four and eight. Measured once
a process for each shape.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from itertools import accumulate
from typing import Any, NamedTuple

import torch
from torch._subclasses.fake_tensor import unset_fake_temporarily
from torch.utils._pytree import tree_leaves

from lumos.plan.measure import allocations, profiled

aten = torch.ops.aten
# The kernels measured, and which of their arguments carry the batch (first dimension)
BATCHED: dict[Any, tuple[int, ...]] = {
    aten.convolution.default: (0,),
    aten.convolution_backward.default: (0, 1),
}
Spec = tuple[Any, ...]  # an argument list, each tensor a TensorSpec
MEASURED = 8  # images a kernel is measured at, at most (the kernels pick their method by it)


class TensorSpec(NamedTuple):
    """A tensor's shape (its batch left out where it has one), its dtype, and its layout:
    its dimensions from the outermost in memory (a channels-last or permuted tensor makes
    a kernel copy it first, a buffer of its own)."""

    shape: tuple[int, ...]
    dtype: torch.dtype
    order: tuple[int, ...]


def kernel_key(func: Any, args: Sequence[Any]) -> tuple[Any, Spec, int] | None:
    """What a measurement of ``func(*args)`` depends on: the kernel, its arguments with the
    batch left out of each batched tensor, and the batch; None for a kernel not measured."""
    batched = BATCHED.get(func)
    if batched is None:
        return None
    spec = tuple(_spec(a, i in batched) for i, a in enumerate(args))
    return func, spec, int(args[batched[0]].shape[0])


def _spec(value: Any, batched: bool) -> Any:
    """A tensor as (shape, dtype), its batch left out where it has one; a list as a tuple."""
    if isinstance(value, torch.Tensor):
        order = sorted(range(value.dim()), key=lambda d: (-value.stride(d), d))
        shape = tuple(value.shape[1:] if batched else value.shape)
        return TensorSpec(shape, value.dtype, tuple(order))
    return tuple(value) if isinstance(value, list) else value


def kernel_buffers(func: Any, spec: Spec, batch: int) -> tuple[int, int]:
    """The bytes ``func`` allocates for itself at ``batch``, at least and at most: measured
    there up to :data:`MEASURED` images (both the same); beyond, at least what it took at
    :data:`MEASURED` (buffers of the weights do not grow) and at most that on the line
    through half as many and as many (buffers of the images grow with them)."""
    if batch <= MEASURED:
        found = _measured(func, spec, batch)
        return found, found
    low, high = (_measured(func, spec, n) for n in (MEASURED // 2, MEASURED))
    grown = high + (batch - MEASURED) * (high - low) // (MEASURED - MEASURED // 2)
    return min(high, grown), max(high, grown)


@functools.cache
def _measured(func: Any, spec: Spec, batch: int) -> int:
    """Peak bytes ``func`` allocated on real tensors of ``spec`` at ``batch``, less the
    bytes of what it returned."""
    with unset_fake_temporarily():
        args = _real(func, spec, batch)
        func(*args)  # the kernel's first call may set things up once
        returned: list[torch.Tensor] = []
        events = profiled(lambda: returned.extend(_tensors(func(*args))))
        peak = max(accumulate((e.nbytes() for e in allocations(events)), initial=0))
        return max(0, peak - sum(t.untyped_storage().nbytes() for t in returned))


def _real(func: Any, spec: Spec, batch: int) -> list[Any]:
    batched = BATCHED[func]

    def made(index: int, value: Any) -> Any:
        if not isinstance(value, TensorSpec):
            return value
        shape = (batch, *value.shape) if index in batched else value.shape
        laid = torch.rand([shape[d] for d in value.order]).to(value.dtype)
        return laid.permute([value.order.index(d) for d in range(len(shape))])

    return [made(i, value) for i, value in enumerate(spec)]


def _tensors(result: Any) -> list[torch.Tensor]:
    return [t for t in tree_leaves(result) if isinstance(t, torch.Tensor)]
