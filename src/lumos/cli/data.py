"""`lumos data ...`: import, list, inspect, export and remove datasets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from lumos.cli.common import VocCornersOption, numbers, out
from lumos.cli.data_import import data_import

app = typer.Typer(help="Import, inspect, export and remove datasets.", no_args_is_help=True)
app.command("import")(data_import)


@app.command("list")
def data_list(
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the datasets of the workspace."""
    from lumos.data import list_datasets

    rows = list_datasets()
    if json_output:
        print(json.dumps(rows, indent=2))
        return
    if not rows:
        out.print("no datasets yet: try `lumos data import sample:digits --name digits`")
        return
    table = Table("name", "task", "records", "classes", "created", "source")
    for row in rows:
        table.add_row(
            row["name"],
            row["task"],
            str(row["records"]),
            str(row["classes"]),
            row["created"],
            row["source"],
        )
    out.print(table)


@app.command("info")
def data_info(
    name: str,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Counts per class and split, size, mean/std, and every skipped file with its reason."""
    from lumos.data import Dataset

    dataset = Dataset.open(name)
    info = dataset.info()
    if json_output:
        print(json.dumps(info, indent=2, ensure_ascii=False))
        return
    height, width = dataset.size
    out.print(
        f"[bold]{dataset.name}[/]  {dataset.task}{' (multi-label)' if dataset.multi_label else ''}"
    )
    out.print(f"source    {info['source']} ({info['format']})")
    out.print(
        f"images    {width}x{height}, {dataset.channels} channel(s), resize {info['resize_mode']}"
    )
    out.print(f"mean/std  {numbers(dataset.mean)} / {numbers(dataset.std)}")
    out.print(f"mean image {dataset.folder / 'mean.png'}", highlight=False)
    if info.get("boxes"):
        boxes = info["boxes"]
        out.print(
            f"boxes     {boxes['count']} ({boxes['per_image_mean']:.2f} per image, up to "
            f"{boxes['per_image_max']}; {boxes['images_without_boxes']} images without); "
            f"width p5/p50/p95 {numbers(boxes['width_p5_p50_p95'], 1)}, "
            f"height {numbers(boxes['height_p5_p50_p95'], 1)}"
        )
    splits = [s for s, n in info["splits"].items() if n]
    table = Table("class", *splits, title=f"{len(dataset)} records")
    for cls in dataset.classes:
        table.add_row(cls, *(str(info["class_counts"].get(s, {}).get(cls, 0)) for s in splits))
    table.add_row("[bold]records[/]", *(str(info["splits"][s]) for s in splits))
    out.print(table)
    problems = info["report"]["problems"]
    for kind in ("skipped", "dropped", "warning"):
        of_kind = [p for p in problems if p["kind"] == kind]
        if of_kind:
            out.print(f"[bold]{kind}[/] ({len(of_kind)})")
            for p in of_kind:
                out.print(f"  {p['file']}: {p['reason']}", markup=False, highlight=False)
    duplicates = info["report"]["duplicates"]
    if duplicates:
        out.print(f"[bold]duplicates[/] ({len(duplicates)} groups)")
        for group in duplicates:
            out.print("  " + " = ".join(group), markup=False, highlight=False)


@app.command("show")
def data_show(
    name: str,
    out_path: Annotated[Path, typer.Option("--out", "-o", help="PNG file to write.")],
    class_name: Annotated[str | None, typer.Option("--class", help="Only this class.")] = None,
    split: Annotated[str | None, typer.Option(help="Only this split.")] = None,
    count: Annotated[int, typer.Option(help="How many records.", min=1, max=1024)] = 64,
    seed: Annotated[int, typer.Option(help="Which random records.")] = 0,
) -> None:
    """Write a grid of sample images, with boxes and masks drawn, as a PNG."""
    from lumos.data import Dataset, sample_grid

    dataset = Dataset.open(name)
    if split is not None:
        dataset = dataset.split(split)
    written = sample_grid(dataset, out_path, class_name=class_name, count=count, seed=seed)
    out.print(f"wrote {written}")


@app.command("export")
def data_export(
    name: str,
    format: Annotated[
        str,
        typer.Option(
            "--format",
            "-f",
            help="coco, voc, yolo, kitti, cvat, labelstudio, labelme, labelme-xml, masks, "
            "folder, list, mnist or cifar.",
        ),
    ],
    out_path: Annotated[Path, typer.Option("--out", "-o", help="Folder to write.")],
    corners: VocCornersOption = "pixels",
    overwrite: Annotated[bool, typer.Option(help="Replace a non-empty folder.")] = False,
) -> None:
    """Write a dataset out in a source format (lossless PNG images, source file names kept)."""
    from lumos.data import export_dataset

    written = export_dataset(name, format, out_path, overwrite=overwrite, corners=corners)
    out.print(f"wrote {written}")


@app.command("rm")
def data_rm(name: str) -> None:
    """Remove a dataset."""
    from lumos.data import remove_dataset

    remove_dataset(name)
    out.print(f"removed {name}")
