"""`lumos plan`: will it fit, on what, how long, at what cost?"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from lumos.cli.common import out, parse_batches, parse_bytes, parse_shape
from lumos.cli.plan_tables import device_table, efficiency_note, memory_table, short_bytes
from lumos.recipe import FixedPrecision, Optimizer

if TYPE_CHECKING:
    from lumos.plan import MemoryPlan

app = typer.Typer()

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
        out.print(device_table(report, images, epochs, compare))
        out.print(efficiency_note(report.share))


def _show_memory(title: str, plans: list[MemoryPlan], measured: list[int]) -> None:
    out.print(memory_table(plans, measured, title))
    out.print(f"bytes; {plans[0].parameters:,} parameters; train = the sum of what is live at "
              "its peak: weights, optimiser state, input batch, saved activations, gradients "
              "made so far, the step's working buffers; rule = the seeds' rule of thumb (12 "
              "bytes a parameter, 8 a layer output, 1 an input value) and its error")  # fmt: skip
    for plan in plans:
        if plan.kernel_buffers:
            own = short_bytes(plan.kernel_buffers)
            out.print(f"batch {plan.batch}: of its working buffers, {own} are a convolution "
                      "kernel's own, measured on this CPU")  # fmt: skip
        if plan.training_least < plan.training:
            low, high = short_bytes(plan.training_least), short_bytes(plan.training)
            out.print(f"batch {plan.batch}: train between {low} and {high}: the kernels' "
                      "buffers beyond 8 images are estimated (from their size at 8 to their "
                      "growth from 4 to 8)")  # fmt: skip
        if plan.how != "traced":
            out.print(f"batch {plan.batch}: {plan.how} here (its shapes follow its data)")


def _say_fit(plans: list[MemoryPlan], fits: int, where: str) -> None:
    out.print(f"largest batch that trains in {where}: {fits}")
    for plan in plans:
        if plan.batch > fits:
            out.print(
                f"batch {plan.batch} does not fit in {where}: the largest that does is {fits}"
            )
