"""Using a model on images: `lumos predict` and `lumos detect`."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

from lumos.choices import DetectionMethod
from lumos.cli.common import ModelArgument, TrustCode, out

if TYPE_CHECKING:
    from lumos.deploy import Bundle
    from lumos.tasks.base import Result

app = typer.Typer()


@app.command("detect")
def detect_command(
    model: Annotated[
        str, typer.Argument(help="A detection model, or a classifier with a 'background' class.")
    ],
    inputs: Annotated[list[Path], typer.Argument(help="Image files and/or folders.")],
    method: Annotated[
        DetectionMethod | None,
        typer.Option(help="How a classifier searches (a detector needs none: model)."),
    ] = None,
    stride: Annotated[
        int, typer.Option(help="Window step in pixels (sliding-window).", min=1)
    ] = 16,
    scales: Annotated[str, typer.Option(help="Comma-separated image scales, e.g. 1,0.5.")] = "1",
    threshold: Annotated[
        float | None, typer.Option(help="Lowest score kept (default: the model's, tuned).")
    ] = None,
    tile: Annotated[
        int | None, typer.Option(help="Search large images in tiles of this size.", min=8)
    ] = None,
    overlap: Annotated[float, typer.Option(help="Share of a tile its neighbours overlap.")] = 0.2,
    out_dir: Annotated[
        Path, typer.Option("--out", help="Where detections.json and pictures go.")
    ] = Path("detections"),
    trust_code: TrustCode = False,
) -> None:
    """Find objects: with a detection model, or with a classifier slid over the image or run
    as a heat map. Writes pictures with boxes and detections.json (COCO results)."""
    from lumos.deploy import Bundle

    try:
        scale_values = tuple(float(v) for v in scales.split(","))
    except ValueError:
        raise typer.BadParameter("use numbers like 1,0.5", param_hint="--scales") from None
    _detect_files(
        Bundle.load(model),
        inputs,
        out_dir,
        trust_code,
        method=method,
        stride=stride,
        scales=scale_values,
        threshold=threshold,
        tile=tile,
        overlap=overlap,
    )


def _detect_files(
    bundle: Bundle, inputs: list[Path], out_dir: Path, trust_code: bool, **options: Any
) -> None:
    """Detect in every image: a picture with boxes each, and one COCO results file."""
    from lumos.tasks.detection.search import detect_files
    from lumos.tasks.inputs import expand

    results = detect_files(bundle, expand(inputs), out_dir, trust_code=trust_code, **options)
    _show(results)
    out.print(f"wrote {out_dir / 'detections.json'}")
    _exit_if_none_read(results)


def _show(results: Sequence[Result]) -> None:
    """Each result on the terminal; an input that could not be read on stderr, one line."""
    for r in results:
        if r.error:
            print(f"{r.source}: {r.error}", file=sys.stderr)
        else:
            out.print(r.describe(), highlight=False)


def _exit_if_none_read(results: Sequence[Result]) -> None:
    if results and all(r.error for r in results):
        raise typer.Exit(2)


@app.command("predict")
def predict_command(
    model: ModelArgument,
    inputs: Annotated[list[Path], typer.Argument(help="Image files and/or folders.")],
    top: Annotated[int, typer.Option(help="How many classes to show.", min=1)] = 5,
    output: Annotated[Literal["table", "json", "csv"], typer.Option("--format")] = "table",
    out_dir: Annotated[
        Path,
        typer.Option("--out", help="Where masks and overlays, or boxes drawn, are written."),
    ] = Path("predictions"),
    trust_code: TrustCode = False,
) -> None:
    """Classify images (`lumos predict digits-lenet photo.png` -> `8  99.69%`); a segmenter
    writes masks and overlays, a detector pictures with boxes and COCO results."""
    from lumos.deploy import Bundle
    from lumos.tasks.inputs import expand

    bundle = Bundle.load(model)
    results = bundle.predict(expand(inputs), top=top, trust_code=trust_code)
    written = bundle.task.write_results(bundle, results, out_dir)
    if output == "json":
        print(json.dumps([r.as_dict() for r in results], indent=2))
    elif output == "csv":
        rows = [row for r in results for row in r.rows()]
        writer = csv.DictWriter(sys.stdout, [*dict.fromkeys(k for row in rows for k in row)])
        writer.writeheader()
        writer.writerows(rows)
    else:
        _show(results)
    if written:
        out.print(f"wrote {len(written)} files to {out_dir}", highlight=False)
    _exit_if_none_read(results)
