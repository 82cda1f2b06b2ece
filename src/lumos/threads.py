"""How many CPU threads a job computes with.

PyTorch starts one intra-op thread per core. Two such processes on one machine (two jobs of
the runner, or a job beside anything else) then fight for every core, and OpenMP's spinning
threads make a step many times slower instead of twice. So each job gets a budget: the job
runner splits the cores between the jobs it starts (``LUMOS_THREADS`` in the worker's
environment) and tells OpenMP to sleep rather than spin while it waits. The recipe's
``threads`` overrides the budget, and a resumed run keeps the count of its checkpoint, since
float sums in another order reach other weights.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import torch

BUDGET_VARIABLE = "LUMOS_THREADS"
"""A job's share of the cores, set by the job runner."""


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def share(jobs: int) -> int:
    """Threads for each of ``jobs`` jobs running together (at least one)."""
    return max(1, cores() // max(1, jobs))


def worker_environment(threads: int) -> dict[str, str]:
    """Environment variables for a job process with a budget of ``threads``."""
    return {
        BUDGET_VARIABLE: str(threads),
        "OMP_NUM_THREADS": str(threads),
        # Waiting OpenMP threads sleep instead of spinning on a core another job needs.
        "OMP_WAIT_POLICY": "PASSIVE",
    }


def budget() -> int | None:
    """The budget the runner gave this process, if any."""
    value = os.environ.get(BUDGET_VARIABLE, "")
    return int(value) if value.isdigit() and int(value) > 0 else None


def choose(recipe_threads: int | None, checkpoint_threads: int | None) -> tuple[int, str]:
    """The thread count for a job and where it came from (for the job's log)."""
    for count, source in (
        (recipe_threads, "the recipe"),
        (checkpoint_threads, "the checkpoint resumed from"),
        (budget(), f"the job runner's share of {cores()} cores"),
    ):
        if count:
            return count, source
    return torch.get_num_threads(), "torch's default"


@contextlib.contextmanager
def computing_with(threads: int) -> Iterator[None]:
    """Run the block with ``threads`` intra-op threads, then restore the previous count."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
