"""`lumos transfer ...`: which saved model to start a training from."""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from lumos.cli.common import out
from lumos.recipe import Recipe

if TYPE_CHECKING:
    from lumos.transfer.rank import Ranking

PLANNED = Recipe.model_fields  # the fine-tuning run planned for: the recipe's defaults

app = typer.Typer(help="Choose the model to start from: rank the store for a dataset.")


@app.command("rank")
def transfer_rank(
    target: Annotated[str, typer.Argument(help="The dataset to train on.")],
    sources: Annotated[
        str, typer.Option(help="all, or saved model names, comma-separated.")
    ] = "all",
    budget: Annotated[
        str,
        typer.Option(
            help="Time the ranking may take: a share of the fine-tuning run the planner "
            "expects (10%), seconds (30), or none. It sizes the sample of target images.",
        ),
    ] = "10%",
    epochs: Annotated[
        int, typer.Option(help="Epochs of the fine-tuning run to plan for.", min=1)
    ] = PLANNED["epochs"].default,
    lr: Annotated[float, typer.Option(help="Its learning rate (the probe's).", min=0.0)] = PLANNED[
        "lr"
    ].default,
    every: Annotated[
        bool, typer.Option("--all", help="Every estimator and the probe, whatever the budget.")
    ] = False,
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
    """Rank saved classifiers as starting points for TARGET, best first, within a budget:
    the default score (the mean rank of its estimators) with each source's rank interval
    over resamples of the images, and a flag on those that do no better than their network
    from scratch (on features, or in a few fine-tuning steps)."""
    from lumos.transfer.budget import Budget, FineTune
    from lumos.transfer.rank import rank

    names = None if sources == "all" else [s.strip() for s in sources.split(",") if s.strip()]
    pulled = [s.strip() for s in hub.split(",") if s.strip()]
    ranked = rank(
        target, names, hub=pulled, control=control, images=images, budget=Budget.parse(budget),
        tune=FineTune(epochs=epochs, lr=lr), everything=every,
    )  # fmt: skip
    if json_output:
        print(json.dumps(ranked.as_dict(), indent=2))
        return
    _show(ranked)


def _show(ranked: Ranking) -> None:
    """The ranking as a table, what it rests on, and its warnings."""
    keys, places = ranked.estimators, ranked.places
    table = Table("#", "source", "rank", "by estimator", "vs scratch", *keys, "seconds",
                  title=f"sources for {ranked.target}")  # fmt: skip
    for place, s in enumerate(ranked.sources, 1):
        values = [f"{s.scores[key]:.3f}" if math.isfinite(s.scores[key]) else "-" for key in keys]
        versus = ("no better" if s.hurts else "better") if s.control else "-"
        table.add_row(str(place), s.source, _span(s.interval), _span(places[s.source]), versus,
                      *values, f"{s.seconds:.1f}")  # fmt: skip
    out.print(table)
    out.print(
        f"scored {ranked.images} target images (at least {ranked.per_class} a class) in "
        f"{ranked.seconds:.1f} s; budget {ranked.budget} (the planner expects a fine-tuning "
        f"run of {ranked.fine_tune_seconds:.0f} s)"
        + ("; with the probe" if ranked.probed else "; the probe did not fit")
    )
    if ranked.overrun:
        out.print(f"note: the ranking {ranked.overrun}")
    if not ranked.stable:
        first = ranked.sources[0]
        out.print(
            f"not yet stable: {first.source} ranks {first.interval[0]}-{first.interval[1]} "
            "over resamples of the images; a larger --budget scores more of them"
        )
    for s in ranked.sources:
        if s.note:
            out.print(f"{s.source}: {s.note}")
        if s.hurts and s.control:
            out.print(
                f"warning: {s.source} does no better than {s.control.source}: "
                "starting from it may be worse than starting from nothing"
            )


def _span(places: tuple[int, int]) -> str:
    """A place, or the range of places it spans."""
    low, high = places
    return f"{low}-{high}" if low != high else str(low)
