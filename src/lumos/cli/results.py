"""Using a model on data: `lumos predict`, `lumos detect`, `lumos eval`."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

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
        str | None,
        typer.Option(help="sliding-window or heatmap for a classifier; a detector needs none."),
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
    output: Annotated[str, typer.Option("--format", help="table, json or csv.")] = "table",
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

    if output not in ("table", "json", "csv"):
        raise typer.BadParameter("choose table, json or csv", param_hint="--format")
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


@app.command("eval")
def eval_command(
    model: Annotated[
        str | None, typer.Argument(help="Saved model name, bundle folder or .lumos file.")
    ] = None,
    data: Annotated[str | None, typer.Option("--data", "-d", help="Dataset to score on.")] = None,
    split: Annotated[str, typer.Option(help="train, val or test.")] = "test",
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Report folder (default: the job folder).")
    ] = None,
    trust_code: TrustCode = False,
    coco_gt: Annotated[
        Path | None, typer.Option(help="Score a COCO results file against this ground truth.")
    ] = None,
    coco_results: Annotated[
        Path | None, typer.Option(help="COCO results file (with --coco-gt).")
    ] = None,
) -> None:
    """Evaluate a model (accuracy, per-class metrics, confusion matrix, top losses,
    calibration), or score COCO detections: `lumos eval --coco-gt GT.json --coco-results R.json`."""
    if coco_gt is not None or coco_results is not None:
        _eval_coco(coco_gt, coco_results, out_dir)
        return
    if model is None or data is None:
        raise typer.BadParameter("give MODEL and --data, or --coco-gt and --coco-results")
    from lumos.evaluate import run_evaluation

    report, folder = run_evaluation(model, data, split, out=out_dir, trust_code=trust_code)
    shown = "  ".join(
        f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in report.metrics.items()
    )
    out.print(f"{report.dataset} {report.split}: {shown}", highlight=False)
    for true, predicted, count in report.confused_pairs[:5]:
        out.print(f"  confused {true} -> {predicted}: {count}", highlight=False)
    out.print(f"report in {folder}")


def _eval_coco(gt: Path | None, results: Path | None, out_dir: Path | None) -> None:
    from lumos.evaluate import coco_metrics
    from lumos.tasks.detection.coco import detection_report

    if gt is None or results is None:
        raise typer.BadParameter("--coco-gt and --coco-results go together")
    metrics = (
        coco_metrics(gt, results) if out_dir is None else detection_report(gt, results, out_dir)
    )
    table = Table("metric", "value", title=f"{results.name} against {gt.name}")
    for key, value in metrics.items():
        if isinstance(value, float):
            table.add_row(key, f"{value:.4f}")
    for name, value in zip(metrics["classes"], metrics["map_per_class"], strict=True):
        table.add_row(f"AP {name}", f"{value:.4f}")
    out.print(table)
    if out_dir is not None:
        out.print(f"report in {out_dir}")
