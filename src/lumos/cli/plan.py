"""`lumos plan`: will it fit, on what, how long, at what cost?"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from lumos.cli.common import out, parse_shape
from lumos.recipe import FixedPrecision, Optimizer

if TYPE_CHECKING:
    from lumos.plan import MemoryPlan
    from lumos.plan.report import PlanReport
    from lumos.plan.timing import Efficiency

app = typer.Typer()
UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
         "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}  # fmt: skip
COLUMNS = ("batch", "weights", "grads", "optim", "saved", "input", "train", "rule", "infer",
           "rule")  # fmt: skip

MemoryOption = Annotated[
    str | None, typer.Option(help="Memory to fit, e.g. 16GB: the largest batch that does.")
]
GpuOption = Annotated[
    str | None, typer.Option(help="A catalogue GPU: largest batch, epoch time and cost.")
]
CompareOption = Annotated[
    bool, typer.Option("--compare", help="Rank every catalogue GPU by time and by cost.")
]
ImagesOption = Annotated[int, typer.Option(help="Images an epoch (--gpu, --compare).", min=1)]
EpochsOption = Annotated[int, typer.Option(help="Epochs a run (--gpu, --compare).", min=1)]
MeasureOption = Annotated[
    bool, typer.Option("--measure", help="Also measure one real training step on this CPU.")
]


def parse_batches(text: str) -> list[int]:
    """'1,32,128' -> [1, 32, 128]."""
    sizes = [int(p) for p in text.split(",")] if re.fullmatch(r"\d+(,\d+)*", text) else [0]
    if 0 in sizes:
        raise typer.BadParameter("use sizes of 1 or more, e.g. 1,32,128", param_hint="--batch")
    return sizes


def parse_bytes(text: str) -> int:
    """'16GB', '512 MiB' -> bytes."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*", text)
    if not match or match.group(2).upper() not in UNITS:
        raise typer.BadParameter("use an amount such as 16GB or 512MiB", param_hint="--memory")
    return int(float(match.group(1)) * UNITS[match.group(2).upper()])


@app.command("plan")
def plan_command(
    network: Annotated[
        str, typer.Argument(help="A zoo network (or timm:NAME), or a saved model's name or file.")
    ],
    input_shape: Annotated[
        str | None, typer.Option("--input", help="CxHxW; default: the network's (model's) own.")
    ] = None,
    batch: Annotated[str, typer.Option(help="Batch sizes, comma-separated.")] = "1,32,128",
    optimizer: Annotated[Optimizer, typer.Option()] = "sgd",
    precision: Annotated[FixedPrecision, typer.Option()] = "fp32",
    classes: Annotated[int, typer.Option(help="Classes the head scores (networks).", min=1)] = 10,
    memory: MemoryOption = None,
    gpu: GpuOption = None,
    compare: CompareOption = False,
    images: ImagesOption = 50_000,
    epochs: EpochsOption = 10,
    measure: MeasureOption = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The memory NETWORK (or a saved MODEL) needs to train (weights, gradients, optimiser
    state, the activations kept for backward, traced from the network) and to run, per batch
    size, with the seeds' rule of thumb beside it; the largest batch that fits a memory or a
    GPU of the catalogue, and an epoch's time and cost there."""
    from lumos.plan import workload_named
    from lumos.plan.hardware import catalogue, device
    from lumos.plan.report import plan_report
    from lumos.workspace import Workspace

    home = Workspace().root
    options = {"optimizer": optimizer, "precision": precision, "num_classes": classes}
    chosen = device(gpu, home) if gpu else None  # an unknown name fails before any tracing
    work = workload_named(network, parse_shape(input_shape) if input_shape else None, **options)
    devices = list(catalogue(home).values()) if compare else [chosen] if chosen else []
    report = plan_report(work, parse_batches(batch), memory=parse_bytes(memory) if memory else None,
                         devices=devices, images=images, epochs=epochs, measure=measure,
                         workspace_root=home)  # fmt: skip
    if json_output:
        print(json.dumps(report.as_dict(), indent=2))
        return
    _show_memory(f"{network}, {'x'.join(map(str, work.input_shape))}, {optimizer}, {precision}",
                 report.plans, report.measured)  # fmt: skip
    places = [(report.largest_batch, memory)] if report.largest_batch is not None else []
    places += [(r.largest_batch, f"the {r.device.name}") for r in report.runs if not compare]
    for room, where in places:
        _say_fit(report.plans, room, where)
    if report.share:
        out.print(_device_table(report, images, epochs, compare))
        out.print(_efficiency_note(report.share))


def _show_memory(title: str, plans: list[MemoryPlan], measured: list[int]) -> None:
    out.print(_memory_table(plans, measured, title))
    out.print(f"bytes; {plans[0].parameters:,} parameters; saved = activations kept for backward; "
              "rule = the seeds' rule of thumb (12 bytes a parameter, 8 a layer output, 1 an "
              "input value) and its error")  # fmt: skip
    if plans[0].extrapolated:
        out.print("traced on real tensors at batch 1 and 2 (its shapes follow its data), "
                  "grown linearly")  # fmt: skip


def _say_fit(plans: list[MemoryPlan], fits: int, where: str) -> None:
    out.print(f"largest batch that trains in {where}: {fits}")
    for plan in plans:
        if plan.batch > fits:
            out.print(
                f"batch {plan.batch} does not fit in {where}: the largest that does is {fits}"
            )


def _memory_table(plans: list[MemoryPlan], measured: list[int], title: str) -> Table:
    table = Table(*COLUMNS, *(["measured"] if measured else []), title=title)
    for index, plan in enumerate(plans):
        train_rule, test_rule = plan.rule_of_thumb
        held = (plan.weights, plan.gradients, plan.optimizer_state, plan.activations, plan.inputs)
        table.add_row(
            str(plan.batch),
            *(_size(v) for v in (*held, plan.training)),
            f"{_size(train_rule)} ({_error(train_rule, plan.training)})",
            _size(plan.inference),
            f"{_size(test_rule)} ({_error(test_rule, plan.inference)})",
            *([_size(measured[index])] if measured else []),
        )
    return table


def _device_table(report: PlanReport, images: int, epochs: int, compare: bool) -> Table:
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


def _efficiency_note(share: Efficiency) -> str:
    return (f"epoch = {share.flops_per_image / 1e9:.2f} GFLOPs a training image / (the GPU's peak "
            f"x {share.share:.2f}): the share of peak this network's training reached on this "
            f"CPU ({share.processor}: {share.images_per_second:.1f} images/s, "
            f"{share.achieved / 1e9:.0f} of {share.peak / 1e9:.0f} GFLOP/s); a GPU reaches its "
            "own share, often less on tensor cores: a first estimate")  # fmt: skip


def _size(value: float) -> str:
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
