"""`lumos models pull`: pretrained weights by name, downloaded once, saved as a model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Column, Table

from lumos.cli.common import out


def models_pull(
    spec: Annotated[
        str | None,
        typer.Argument(
            help="torchvision:NAME.TAG, timm:NAME.TAG or hf-hub:ORG/NAME, e.g. "
            "torchvision:resnet50.IMAGENET1K_V2 (with --list: a pattern such as 'resnet*')."
        ),
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", "-n", help="Default: the weights' name and tag.")
    ] = None,
    from_file: Annotated[
        Path | None,
        typer.Option("--from", help="The file, fetched elsewhere (its hash is checked)."),
    ] = None,
    list_only: Annotated[
        bool, typer.Option("--list", help="List the weights that can be pulled.")
    ] = False,
    overwrite: Annotated[bool, typer.Option(help="Replace a model of the same name.")] = False,
) -> None:
    """Download pretrained weights (once: later pulls read the cache) and save them as a
    model, with their library's input transform, class names and provenance."""
    from lumos.pretrained.pull import pull, pullable_weights

    if list_only:
        table = Table("network", "reported", "MB", "parameters")
        table.columns.insert(0, Column("weights", overflow="fold"))
        for entry in pullable_weights(spec or "*"):
            about = entry.about
            size, parameters = about["file_mb"], about["parameters"]
            table.add_row(
                entry.spec,
                entry.network,
                entry.reported or "-",
                "-" if size is None else f"{size:.1f}",
                "-" if parameters is None else f"{parameters:,}",
            )
        out.print(table)
        return
    if spec is None:
        raise typer.BadParameter("name the weights to pull, or give --list", param_hint="SPEC")
    folder = pull(spec, name, from_file=from_file, overwrite=overwrite)
    out.print(f"pulled {spec} as model {folder.name} in {folder}", highlight=False)
