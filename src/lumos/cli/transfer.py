"""`lumos transfer ...`: which saved model to start a training from."""

from __future__ import annotations

import json
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
) -> None:
    """Rank saved classifiers as starting points for TARGET, best first, from one forward
    pass each (LogME, LEEP, NLEEP, k-NN, GBC, linear probe; the default their mean rank)."""
    from lumos.transfer.rank import ESTIMATORS, rank

    names = None if sources == "all" else [s.strip() for s in sources.split(",") if s.strip()]
    ranked = rank(target, names)
    if json_output:
        print(json.dumps([vars(s) for s in ranked], indent=2))
        return
    table = Table("source", "score", *ESTIMATORS, "seconds", title=f"sources for {target}")
    for s in ranked:
        values = [f"{s.scores[key]:.3f}" for key in ESTIMATORS]
        table.add_row(s.source, f"{s.score:.2f}", *values, f"{s.seconds:.1f}")
    out.print(table)
