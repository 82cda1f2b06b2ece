"""The memory one real training step takes, as the allocator saw it: what the planner's
traced estimate is checked against.

On the CPU, PyTorch's profiler records every allocation and free of the CPU allocator
(``profile_memory=True``), the kernels' own workspaces included; the peak of their running
sum during a steady-state step, plus what was held before it (weights, the optimiser's
state, the batch), is the step's peak. On CUDA, the caching allocator's
``max_memory_allocated`` says the same.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import accumulate

import torch
from torch.profiler import ProfilerActivity, profile

from lumos.plan.step import TrainingStep, Workload, nbytes


def training_peak(work: Workload, batch: int, device: str = "cpu") -> int:
    """Bytes allocated at the peak of one real steady-state training step of ``work``."""
    step = TrainingStep(work, batch, device)
    step()  # the optimiser's state now exists
    held = sum(nbytes(t) for t in step.held())
    if device.startswith("cuda"):
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        step()
        torch.cuda.synchronize(device)
        return torch.cuda.max_memory_allocated(device)
    events = profiled(step)
    return held + max(accumulate((e.nbytes() for e in allocations(events)), initial=0))


def profiled(action: Callable[[], None]) -> list:
    """The profiler's events (operators and allocations) while ``action`` runs."""
    with _stderr_muted(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as run:
        action()
    return list(run.profiler.kineto_results.events())


@contextmanager
def _stderr_muted() -> Iterator[None]:
    """The process's error output (file descriptor 2) to /dev/null: the profiler's library
    writes a line as it starts and stops, whatever its log level says."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        nothing = os.open(os.devnull, os.O_WRONLY)
        os.dup2(nothing, 2)
        os.close(nothing)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def allocations(events: list) -> list:
    return sorted((e for e in events if e.name() == "[memory]"), key=lambda e: e.start_ns())
