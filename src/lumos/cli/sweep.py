"""`lumos sweep`: try values of a recipe's fields as an Optuna study of training jobs."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from lumos.cli.common import out

if TYPE_CHECKING:
    from lumos.sweep import Sweep
    from lumos.sweep.report import Row

app = typer.Typer()
ParamOption = Annotated[
    list[str] | None,
    typer.Option("--param", help="NAME=SPEC: lr=log:1e-4:1e-1, epochs=int:5:20, batch_size=32,64."),
]
StorageOption = Annotated[
    str | None, typer.Option(help="SQLAlchemy URL of the study (default: the workspace's SQLite).")
]
JoinOption = Annotated[str | None, typer.Option(help="Work on the trials of this existing sweep.")]
ShowOption = Annotated[str | None, typer.Option(help="Only report this sweep.")]
PruneOption = Annotated[str, typer.Option(help="none, or median: stop trials below the median.")]
NameOption = Annotated[str | None, typer.Option(help="The sweep's name (default: sweep-TIME).")]


@app.command("sweep")
def sweep_command(
    settings: Annotated[
        list[str] | None,
        typer.Argument(help="A recipe YAML and/or KEY=VALUE settings: the trials' base."),
    ] = None,
    param: ParamOption = None,
    trials: Annotated[int, typer.Option(help="Trials the sweep runs in all.", min=1)] = 20,
    sampler: Annotated[str, typer.Option(help="tpe, random or grid.")] = "tpe",
    prune: Annotated[
        str, typer.Option(help="none, or median: stop trials below the median.")
    ] = "none",
    storage: StorageOption = None,
    name: Annotated[
        str | None, typer.Option(help="The sweep's name (default: sweep-TIME).")
    ] = None,
    join: JoinOption = None,
    show: ShowOption = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the sampler.")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Sweep: train the recipe with values drawn for each --param, each trial a training
    job, reported after every epoch (and pruned if --prune says), until --trials have run;
    then the trials, the best recipe and the parameters' importance. Workers on other
    machines join with `lumos sweep --join NAME --storage URL`."""
    from lumos.recipe import Recipe
    from lumos.sweep import create_sweep, open_sweep, work_on
    from lumos.sweep.report import best_row, rows, write_report
    from lumos.workspace import Workspace

    workspace = Workspace()
    if show or join:
        sweep = open_sweep(show or join, storage, workspace)  # type: ignore[arg-type]
    else:
        recipe = Recipe.from_settings(settings or [])
        stamp = f"sweep-{datetime.now(timezone.utc):%Y%m%d-%H%M%S}"
        sweep = create_sweep(recipe, param or [], name=name or stamp, trials=trials,
                             sampler=sampler, prune=prune, storage=storage,
                             workspace=workspace)  # fmt: skip
        varied = ", ".join(p.text for p in sweep.params)
        out.print(f"sweep {sweep.name}: {sweep.trials} trials of {varied}")
    if not show:
        out.print(f"this worker ran {work_on(sweep, workspace, seed=seed)} trials")
    files = write_report(sweep, workspace)
    found = rows(sweep)
    best = best_row(sweep, found)
    if json_output:
        trials_done = [r.as_dict() for r in found]
        answer = {"sweep": sweep.name, "metric": sweep.metric, "trials": trials_done,
                  "best": best and best.as_dict(), "files": [str(f) for f in files]}  # fmt: skip
        print(json.dumps(answer, indent=2))
        return
    out.print(_table(sweep, found))
    if best is not None:
        out.print(f"best: trial {best.number}, {sweep.metric} {best.value:.4f}, {best.params}")
    out.print("wrote " + ", ".join(str(f) for f in files))


def _table(sweep: Sweep, found: list[Row]) -> Table:
    names = [p.name for p in sweep.params]
    table = Table("trial", "state", sweep.metric, *names, "epochs", "job",
                  title=f"sweep {sweep.name}")  # fmt: skip
    for r in found:
        value = "" if r.value is None else f"{r.value:.4f}"
        params = [str(r.params.get(n, "")) for n in names]
        table.add_row(str(r.number), r.state, value, *params, str(r.epochs or ""), r.job or "")
    return table
