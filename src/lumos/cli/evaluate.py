"""`lumos eval`: a model scored on a dataset split, or COCO detections on their ground truth."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from lumos.cli.common import TrustCode, out

app = typer.Typer()


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
