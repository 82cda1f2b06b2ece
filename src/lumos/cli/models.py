"""`lumos models ...`: the zoo, saved models, their layers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from lumos.cli.common import out, parse_shape
from lumos.cli.models_layers import models_convert_fcn, models_show

app = typer.Typer(
    help="The model zoo and saved models: list, save, import, show, remove.", no_args_is_help=True
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


@app.command("import")
def models_import(
    file: Annotated[Path, typer.Argument(help="safetensors, or a PyTorch state dict (.pt/.pth).")],
    network: Annotated[str, typer.Option(help="The zoo network (or timm:NAME) they fit.")],
    labels: Annotated[
        str | None, typer.Option(help="Class names, comma-separated (default: 0, 1, ...).")
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", "-n", help="Default: the file's stem.")
    ] = None,
    input_shape: Annotated[
        str | None, typer.Option("--input", help="CHANNELSxHEIGHTxWIDTH it expects.")
    ] = None,
    normalize: Annotated[
        str, typer.Option(help="none, or imagenet (torchvision's and timm's weights).")
    ] = "none",
    trained_on: Annotated[
        str | None,
        typer.Option(
            help="The data it was trained on: any text, or a dataset here (then P2L can use it)."
        ),
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace a model of the same name.")] = False,
) -> None:
    """Import weights you have on disk as a saved model: a source to fine-tune from.
    Only tensors are read; nothing in the file is unpickled or run."""
    from lumos.transfer import IMAGENET, ImportRequest, import_model

    if normalize not in ("none", "imagenet"):
        raise typer.BadParameter("choose none or imagenet", param_hint="--normalize")
    request = ImportRequest(
        file,
        network,
        labels=[c.strip() for c in labels.split(",")] if labels else None,
        stats=IMAGENET if normalize == "imagenet" else None,
        input_shape=parse_shape(input_shape) if input_shape else None,
        trained_on=trained_on,
    )
    folder = import_model(request, name, overwrite=overwrite)
    out.print(f"imported {file} as model {folder.name} in {folder}", highlight=False)


@app.command("rm")
def models_rm(name: str) -> None:
    """Remove a saved model."""
    from lumos.deploy import remove_bundle

    remove_bundle(name)
    out.print(f"removed {name}")


app.command("convert-fcn")(models_convert_fcn)
app.command("show")(models_show)
