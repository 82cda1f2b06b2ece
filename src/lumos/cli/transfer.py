"""`lumos transfer ...`: which saved model to start a training from."""

from __future__ import annotations

import json
import math
from typing import Annotated

import typer
from rich.table import Table

from lumos.cli.common import out

app = typer.Typer(help="Choose the model to start from: rank the store for a dataset.")


@app.command("rank")
def transfer_rank(
    target: Annotated[str, typer.Argument(help="The dataset to train on.")],
    sources: Annotated[
        str, typer.Option(help="all, or saved model names, comma-separated.")
    ] = "all",
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    images: Annotated[
        int,
        typer.Option(help="At most this many training images (each class keeps its share).", min=4),
    ] = 2000,
    control: Annotated[
        bool, typer.Option(help="Score each network from scratch too, to flag negative transfer.")
    ] = True,
    hub: Annotated[
        str,
        typer.Option(
            help="Published weights to rank beside the store's, comma-separated: network "
            "names (resnet50, convnext_tiny) or specs (torchvision:NAME.TAG, timm:NAME.TAG)."
        ),
    ] = "",
) -> None:
    """Rank saved classifiers as starting points for TARGET, best first, from one forward
    pass each (LogME, LEEP, NLEEP, k-NN, GBC, linear probe, P2L; the default their mean
    rank), and flag those that score no better than their network from scratch."""
    from lumos.transfer.rank import ESTIMATORS, rank

    names = None if sources == "all" else [s.strip() for s in sources.split(",") if s.strip()]
    pulled = [s.strip() for s in hub.split(",") if s.strip()]
    ranked = rank(target, names, hub=pulled, control=control, images=images)
    if json_output:
        print(json.dumps([s.as_dict() for s in ranked], indent=2))
        return
    keys = [*ESTIMATORS, "p2l"]
    table = Table("#", "source", "vs scratch", *keys, "seconds", title=f"sources for {target}")
    for place, s in enumerate(ranked, 1):
        values = [f"{s.scores[key]:.3f}" if math.isfinite(s.scores[key]) else "-" for key in keys]
        versus = ("no better" if s.hurts else "better") if s.control else "-"
        table.add_row(str(place), s.source, versus, *values, f"{s.seconds:.1f}")
    out.print(table)
    for s in ranked:
        if s.note:
            out.print(f"{s.source}: {s.note}")
        if s.hurts and s.control:
            out.print(
                f"warning: {s.source}'s features do no better than {s.control.source}'s: "
                "starting from it may be worse than starting from nothing"
            )
