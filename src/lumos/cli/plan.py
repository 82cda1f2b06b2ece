"""`lumos plan`: will it fit? The memory a network needs to train and to run."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Annotated, Literal

import typer
from rich.table import Table

from lumos.cli.common import out, parse_shape

if TYPE_CHECKING:
    from lumos.plan import MemoryPlan

app = typer.Typer()
UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
         "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}  # fmt: skip
COLUMNS = ("batch", "weights", "grads", "optim", "saved", "input", "train", "rule", "infer",
           "rule")  # fmt: skip


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
    network: Annotated[str, typer.Argument(help="A zoo network (or timm:NAME).")],
    input_shape: Annotated[
        str | None, typer.Option("--input", help="CxHxW; default: the network's own input.")
    ] = None,
    batch: Annotated[str, typer.Option(help="Batch sizes, comma-separated.")] = "1,32,128",
    optimizer: Annotated[Literal["sgd", "adam", "adamw"], typer.Option()] = "sgd",
    precision: Annotated[Literal["fp32", "bf16", "fp16"], typer.Option()] = "fp32",
    classes: Annotated[int, typer.Option(help="Classes the head scores.", min=1)] = 10,
    memory: Annotated[
        str | None, typer.Option(help="Memory to fit, e.g. 16GB: the largest batch that does.")
    ] = None,
    measure: Annotated[
        bool, typer.Option("--measure", help="Also measure one real training step on this CPU.")
    ] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The memory NETWORK needs to train (weights, gradients, optimiser state, the
    activations kept for backward, traced from the network) and to run, per batch size,
    with the seeds' rule of thumb beside it."""
    from lumos.models import default_input
    from lumos.plan import estimate, largest_batch
    from lumos.plan.measure import training_peak

    shape = parse_shape(input_shape) if input_shape else default_input(network)
    sizes, room = parse_batches(batch), parse_bytes(memory) if memory else None
    options = {"optimizer": optimizer, "precision": precision, "num_classes": classes}
    plans = estimate(network, shape, sizes, **options)
    measured = [training_peak(network, shape, p.batch, **options) for p in plans if measure]
    fits = largest_batch(plans[0], room) if room is not None else None
    if json_output:
        rows = [plan.as_dict() for plan in plans]
        for row, peak in zip(rows, measured, strict=False):
            row["measured"] = peak
        print(json.dumps({"plans": rows, "largest_batch": fits}, indent=2))
        return
    out.print(
        _table(plans, measured, f"{network}, {'x'.join(map(str, shape))}, {optimizer}, {precision}")
    )
    out.print(f"bytes; {plans[0].parameters:,} parameters; saved = activations kept for backward; "
              "rule = the seeds' rule of thumb (12 bytes a parameter, 8 a layer output, 1 an "
              "input value) and its error")  # fmt: skip
    if fits is not None:
        out.print(f"largest batch that trains in {memory}: {fits}")


def _table(plans: list[MemoryPlan], measured: list[int], title: str) -> Table:
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


def _size(value: float) -> str:
    """Bytes, short: 44.7M, 1.07G."""
    for unit, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if value >= scale:
            return f"{value / scale:.3g}{unit}"
    return f"{value:.0f}"


def _error(rule: int, traced: int) -> str:
    return f"{100 * (rule - traced) / traced:+.0f}%"
