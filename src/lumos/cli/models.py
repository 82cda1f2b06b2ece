"""`lumos models ...`: the zoo, saved models, their layers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from lumos.cli.common import out
from lumos.cli.models_import import models_import
from lumos.cli.models_layers import models_convert_fcn, models_show
from lumos.cli.models_pull import models_pull

app = typer.Typer(
    help="The model zoo and saved models: list, save, import, pull, show, remove.",
    no_args_is_help=True,
)


@app.command("list")
def models_list(
    pattern: Annotated[
        str, typer.Argument(help="Shell-style filter on zoo names, e.g. 'resnet*'.")
    ] = "*",
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The networks of the zoo (and any timm model as timm:NAME), then the saved models."""
    from lumos.deploy import list_bundles
    from lumos.tasks import zoo_rows

    zoo = zoo_rows(pattern)
    saved = list_bundles()
    if json_output:
        print(json.dumps({"networks": zoo, "saved": saved}, indent=2))
        return
    table = Table("network", "task", "input", "family", "description", title="model zoo")
    for row in zoo:
        shape = "x".join(map(str, row["input"]))
        table.add_row(row["name"], row["task"], shape, row["family"], row["description"])
    out.print(table)
    out.print("and any timm model as timm:NAME (e.g. timm:resnet18d)")
    if saved:
        columns = ("model", "network", "trained on", "from", "metrics", "created")
        table = Table(*columns, title="saved models")
        for row in saved:
            metrics = ", ".join(
                f"{k} {v:.4f}" for k, v in row["metrics"].items() if k.startswith("val_")
            )
            cells = (row["dataset"] or "", row["source"], metrics, row["created"] or "")
            table.add_row(row["name"], row["network"], *cells)
        out.print(table)


@app.command("save")
def models_save(
    job: Annotated[str, typer.Argument(help="A finished (or stopped) training job.")],
    name: Annotated[str, typer.Option("--name", "-n", help="Name of the saved model.")],
    file: Annotated[
        Path | None, typer.Option(help="Also write a portable .lumos file here.")
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace a model of the same name.")] = False,
) -> None:
    """Save a training job's best weights as a model (a bundle)."""
    from lumos.deploy import Bundle
    from lumos.deploy.from_job import bundle_from_job

    folder = bundle_from_job(job, name, overwrite=overwrite)
    out.print(f"saved model {name} in {folder}")
    if file is not None:
        out.print(f"wrote {Bundle.load(folder).save(file)}")


@app.command("rm")
def models_rm(name: str) -> None:
    """Remove a saved model."""
    from lumos.deploy import remove_bundle

    remove_bundle(name)
    out.print(f"removed {name}")


app.command("import")(models_import)
app.command("pull")(models_pull)
app.command("convert-fcn")(models_convert_fcn)
app.command("show")(models_show)
