"""An evaluation's report, and writing it out: metrics.json, per-class and confusion CSVs,
and pictures (confusion matrix, highest-loss records, reliability diagram)."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from lumos.data import Dataset
from lumos.data.show import CELL, palette, render
from lumos.figures import pyplot


@dataclass
class Report:
    """Scores of a model on a dataset split, with what the pictures are drawn from."""

    dataset: str
    split: str
    classes: list[str]
    metrics: dict[str, float]
    per_class: list[dict[str, float | str]]
    confusion: np.ndarray | None = None
    confused_pairs: list[tuple[str, str, int]] = field(default_factory=list)
    top_losses: list[tuple[int, float, str]] = field(
        default_factory=list
    )  # (record, loss, predicted)
    calibration: list[tuple[float, float, int]] = field(
        default_factory=list
    )  # (confidence, accuracy, count)


def write_report(report: Report, dataset: Dataset, folder: Path) -> list[Path]:
    """Write every file of the report into ``folder``; returns them."""
    folder.mkdir(parents=True, exist_ok=True)
    written = [folder / "metrics.json", folder / "per_class.csv"]
    summary = {
        "dataset": report.dataset,
        "split": report.split,
        **report.metrics,
        "most_confused": [
            {"true": t, "predicted": p, "count": n} for t, p, n in report.confused_pairs
        ],
    }
    written[0].write_text(json.dumps(summary, indent=2))
    with written[1].open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(report.per_class[0]))
        writer.writeheader()
        writer.writerows(report.per_class)
    if report.confusion is not None:
        written += _confusion(report, folder)
    if report.top_losses:
        written.append(_top_losses(report, dataset, folder / "top_losses.png"))
    if report.calibration:
        written.append(_calibration(report, folder / "calibration.png"))
    return written


def _confusion(report: Report, folder: Path) -> list[Path]:
    plt = pyplot()
    matrix, classes = report.confusion, report.classes
    assert matrix is not None
    with (folder / "confusion.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["true \\ predicted", *classes])
        for name, row in zip(classes, matrix, strict=True):
            writer.writerow([name, *row.tolist()])
    size = max(4.0, 0.45 * len(classes) + 2)
    figure, axes = plt.subplots(figsize=(size, size))
    rates = matrix / np.maximum(matrix.sum(1, keepdims=True), 1)
    axes.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    axes.set_xticks(range(len(classes)), classes, rotation=90 if len(classes) > 8 else 0)
    axes.set_yticks(range(len(classes)), classes)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(f"{report.dataset} {report.split}: top-1 {report.metrics['top1']:.2%}")
    if len(classes) <= 30:
        for t in range(len(classes)):
            for p in range(len(classes)):
                if matrix[t, p]:
                    axes.text(
                        p,
                        t,
                        str(matrix[t, p]),
                        ha="center",
                        va="center",
                        fontsize=8,
                        color="white" if rates[t, p] > 0.5 else "black",
                    )
    figure.tight_layout()
    figure.savefig(folder / "confusion.png", dpi=100)
    plt.close(figure)
    return [folder / "confusion.csv", folder / "confusion.png"]


def _top_losses(report: Report, dataset: Dataset, path: Path) -> Path:
    columns = min(4, len(report.top_losses))
    rows = -(-len(report.top_losses) // columns)
    sheet = Image.new("RGB", (columns * CELL, rows * (CELL + 28)), (24, 24, 24))
    font = ImageFont.load_default(size=11)
    colours = palette(len(report.classes))
    for slot, (index, loss, predicted) in enumerate(report.top_losses):
        sample = dataset.store_sample(index)
        tile, caption = render(sample, report.classes, colours, font)
        x, y = (slot % columns) * CELL, (slot // columns) * (CELL + 28)
        sheet.paste(tile, (x, y))
        draw = ImageDraw.Draw(sheet)
        draw.text((x + 3, y + CELL + 1), f"true {caption}"[:22], fill=(200, 230, 200), font=font)
        draw.text(
            (x + 3, y + CELL + 14),
            f"pred {predicted} ({loss:.2f})"[:22],
            fill=(240, 170, 170),
            font=font,
        )
    sheet.save(path)
    return path


def _calibration(report: Report, path: Path) -> Path:
    plt = pyplot()
    figure, axes = plt.subplots(figsize=(4.5, 4.5))
    confidence, accuracy, _ = zip(*report.calibration, strict=True)
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect")
    axes.plot(confidence, accuracy, marker="o", label=f"model (ECE {report.metrics['ece']:.3f})")
    axes.set_xlabel("confidence")
    axes.set_ylabel("accuracy")
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1)
    axes.legend(loc="upper left")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
