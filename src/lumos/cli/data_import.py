"""`lumos data import`: a folder, file or sample becomes a dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lumos.choices import ImageEncoding, ResizeMode, TaskKind
from lumos.cli.common import VocCornersOption, out, parse_size


def data_import(
    source: Annotated[str, typer.Argument(help="Folder, file, or sample:digits / sample:shapes.")],
    name: Annotated[str, typer.Option("--name", "-n", help="Name of the new dataset.")],
    format: Annotated[str | None, typer.Option(help="Source format (detected if omitted).")] = None,
    task: Annotated[TaskKind | None, typer.Option(help="What to import the labels for.")] = None,
    size: Annotated[
        str | None, typer.Option(help="N or WIDTHxHEIGHT (default: the common source size).")
    ] = None,
    resize_mode: Annotated[ResizeMode, typer.Option()] = "squash",
    channels: Annotated[int | None, typer.Option(help="1 (grayscale) or 3 (colour).")] = None,
    val_percent: Annotated[
        float, typer.Option("--val", help="Percent for validation, where the source gives none.")
    ] = 15.0,
    test_percent: Annotated[
        float, typer.Option("--test", help="Percent for test, where the source gives none.")
    ] = 10.0,
    stratify: Annotated[bool, typer.Option(help="Same class shares in each split.")] = True,
    seed: Annotated[int, typer.Option(help="Seed for splits and sampling.")] = 0,
    min_per_class: Annotated[int, typer.Option(help="Drop classes with fewer images.")] = 0,
    max_per_class: Annotated[
        int | None, typer.Option(help="Keep at most this many per class.")
    ] = None,
    classes: Annotated[
        str | None, typer.Option(help="Class list, comma-separated, in order.")
    ] = None,
    dedupe: Annotated[bool, typer.Option(help="Drop exact duplicate images.")] = False,
    allow_one_class: Annotated[
        bool, typer.Option(help="Import a classification source with one class.")
    ] = False,
    max_pixels: Annotated[
        int | None, typer.Option(help="Refuse larger images (decompression bombs).")
    ] = None,
    workers: Annotated[
        int | None, typer.Option(help="Decoding processes (default: all cores).")
    ] = None,
    encoding: Annotated[ImageEncoding, typer.Option(help="How the images are stored.")] = "auto",
    corners: VocCornersOption = "pixels",
    overwrite: Annotated[bool, typer.Option(help="Replace a dataset of the same name.")] = False,
    download: Annotated[bool, typer.Option(help="Fetch MNIST or CIFAR into SOURCE first.")] = False,
) -> None:
    """Import SOURCE as a new dataset: checked, resized and stored for fast reading."""
    from lumos.data import Dataset, ImportOptions, import_dataset
    from lumos.data.formats import download_into
    from lumos.progress import terminal_progress

    given = {**locals(), "size": parse_size(size), "classes": _class_list(classes)}
    options = ImportOptions(
        **{k: v for k, v in given.items() if k in ImportOptions.model_fields and v is not None}
    )
    if download:
        source = str(download_into(Path(source), format))
    with terminal_progress() as progress:
        folder = import_dataset(source, name, options, overwrite=overwrite, progress=progress)
    out.print(Dataset(folder).summary(), highlight=False, markup=False)


def _class_list(text: str | None) -> list[str] | None:
    return [c.strip() for c in text.split(",")] if text else None
