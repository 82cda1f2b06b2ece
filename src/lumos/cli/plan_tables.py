"""`lumos plan`'s tables: memory per batch size, and the catalogue's GPUs by time and cost."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table

if TYPE_CHECKING:
    from lumos.plan import MemoryPlan
    from lumos.plan.report import PlanReport
    from lumos.plan.timing import Efficiency

COLUMNS = ("batch", "weights", "optim", "input", "saved", "grads", "working", "train", "rule",
           "infer", "rule")  # fmt: skip


def memory_table(plans: list[MemoryPlan], measured: list[int], title: str) -> Table:
    table = Table(*COLUMNS, *(["measured"] if measured else []), title=title)
    for index, plan in enumerate(plans):
        train_rule, test_rule = plan.rule_of_thumb
        table.add_row(
            str(plan.batch),
            *(short_bytes(v) for v in (*plan.training_parts.values(), plan.training)),
            f"{short_bytes(train_rule)} ({_error(train_rule, plan.training)})",
            short_bytes(plan.inference),
            f"{short_bytes(test_rule)} ({_error(test_rule, plan.inference)})",
            *([short_bytes(measured[index])] if measured else []),
        )
    return table


def device_table(report: PlanReport, images: int, epochs: int, compare: bool) -> Table:
    table = Table("gpu", "memory", "largest batch", "arithmetic", "epoch", "$/epoch",
                  f"$/run ({epochs} epochs)", "kWh/run", *(["cost rank"] if compare else []),
                  title=f"{images:,} images an epoch")  # fmt: skip
    for run, cost_rank in report.ranked():
        fits = run.largest_batch > 0
        table.add_row(
            run.device.key,
            f"{run.device.memory_gb:g} GB",
            str(run.largest_batch) if fits else "does not fit",
            run.arithmetic,
            _duration(run.epoch_seconds) if fits else "-",
            _dollars(run.usd_per_epoch) if fits else "-",
            _dollars(run.usd_per_run) if fits else "-",
            f"{run.kwh_per_run:.2f}" if fits else "-",
            *([str(cost_rank or "-")] if compare else []),
        )
    return table


def efficiency_note(share: Efficiency) -> str:
    return (f"epoch = {share.flops_per_image / 1e9:.2f} GFLOPs a training image / (the GPU's peak "
            f"x {share.share:.2f}): the share of peak this network's training reached on this "
            f"CPU ({share.processor}: {share.images_per_second:.1f} images/s, "
            f"{share.achieved / 1e9:.0f} of {share.peak / 1e9:.0f} GFLOP/s); a GPU reaches its "
            "own share, often less on tensor cores: a first estimate")  # fmt: skip


def short_bytes(value: float) -> str:
    """Bytes, short: 44.7M, 1.07G."""
    for unit, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if value >= scale:
            return f"{value / scale:.3g}{unit}"
    return f"{value:.0f}"


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.1f} s"


def _dollars(value: float | None) -> str:
    return "-" if value is None else f"${value:,.2f}" if value >= 0.01 else f"${value:.4f}"


def _error(rule: int, traced: int) -> str:
    return f"{100 * (rule - traced) / traced:+.0f}%"
