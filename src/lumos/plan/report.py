"""One plan of a workload, as both front ends show it: its memory at each batch size
(measured too, if asked), the largest batch that fits a memory, and an epoch's time and
cost on GPUs of the catalogue."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lumos.plan.hardware import Device
from lumos.plan.measure import training_peak
from lumos.plan.memory import MemoryPlan, Planner
from lumos.plan.step import Workload
from lumos.plan.timing import DevicePlan, Efficiency, efficiency, efficiency_cache, on_device
from lumos.plan.timing import ranked as ranked_runs


@dataclass(frozen=True)
class PlanReport:
    """A workload's plans, what was measured, what fits, and its runs on devices."""

    work: Workload
    plans: list[MemoryPlan]
    measured: list[int]  # bytes at the peak of a real step, one per plan (empty: not asked)
    largest_batch: int | None  # in the memory asked about (None: none asked about)
    runs: list[DevicePlan]  # on each device asked about, at the largest batch planned
    share: Efficiency | None  # this network's share of peak, measured for the runs

    def ranked(self) -> list[tuple[DevicePlan, int | None]]:
        """The runs fastest first, each with its rank by the cost of a run."""
        return ranked_runs(self.runs)

    def as_dict(self) -> dict[str, Any]:
        rows = [plan.as_dict() for plan in self.plans]
        for row, peak in zip(rows, self.measured, strict=False):
            row["measured"] = peak
        answer: dict[str, Any] = {"plans": rows, "largest_batch": self.largest_batch}
        if self.share is not None:
            answer["devices"] = [run.as_dict() | {"cost_rank": r} for run, r in self.ranked()]
            answer["efficiency"] = self.share.__dict__ | {"share": self.share.share}
        return answer


def plan_report(
    work: Workload,
    batches: Sequence[int],
    *,
    memory: int | None = None,
    devices: Sequence[Device] = (),
    images: int = 50_000,
    epochs: int = 10,
    measure: bool = False,
    workspace_root: Path | None = None,
    val_images: int = 0,
    loader_rate: float | None = None,
) -> PlanReport:
    """Plan ``work`` at each of ``batches``; with ``measure``, one real training step each on
    this CPU; with ``memory`` (bytes), the largest batch that fits it; on each of
    ``devices``, ``epochs`` of ``images`` (and ``val_images`` to validate, the training
    images read at ``loader_rate`` where it was measured) at the largest batch planned (the
    efficiency measured once, kept in the workspace)."""
    planner = Planner(work)
    plans = [planner.plan(size) for size in batches]
    measured = [training_peak(work, plan.batch) for plan in plans] if measure else []
    fits = planner.largest_batch(memory) if memory is not None else None
    if not devices:
        return PlanReport(work, plans, measured, fits, [], None)
    share = efficiency(work, efficiency_cache(workspace_root))
    largest = max(plan.batch for plan in plans)
    runs = [on_device(planner, d, largest, images=images, epochs=epochs, measured=share,
                      val_images=val_images, loader_rate=loader_rate) for d in devices]  # fmt: skip
    return PlanReport(work, plans, measured, fits, runs, share)
