"""Detection evaluation of a bundle on a dataset split: COCO mAP, PR curves, confusion."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from lumos.data import Dataset
from lumos.data.loader import BatchLoader, at_size
from lumos.tasks.base import GraphRun, TrainedModel
from lumos.tasks.detection.coco import (
    best_threshold,
    coco_documents,
    detection_report,
)
from lumos.tasks.predictor import Predictor
from lumos.tasks.report import Report

Finder = Callable[[torch.Tensor], list[dict[str, torch.Tensor]]]  # a batch to boxes per image


@torch.no_grad()
def detect_split(
    model: nn.Module | Finder, loader: BatchLoader, input_size: tuple[int, int]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The stored boxes of every record and a detector's boxes for it, in stored pixels;
    labels are class indices (the detector's minus one; its background left out).
    ``model`` is a detector, or any function from a batch at the input size to its boxes
    per image, in input pixels."""
    on_cpu = not isinstance(model, nn.Module)
    device = torch.device("cpu") if on_cpu else next(model.parameters()).device
    truths: list[dict[str, Any]] = []
    found: list[dict[str, Any]] = []
    for images, targets in loader:
        height, width = images.shape[2:]
        images = at_size(images, input_size)
        scale = torch.tensor([width / input_size[1], height / input_size[0]] * 2)
        truths.extend(targets)
        for o in model(images.to(device)):
            kept = o["labels"] > 0  # eager torchvision may score the background; never a class
            found.append(
                {
                    "boxes": o["boxes"][kept].float().cpu() * scale,
                    "labels": o["labels"][kept].cpu() - 1,
                    "scores": o["scores"][kept].float().cpu(),
                }
            )
    return truths, found


def tuned_score_threshold(bundle: TrainedModel, part: Dataset) -> float:
    """The score threshold with the best F1 on ``part`` (a validation split)."""
    return best_threshold(*_coco_split(bundle, part, False))


def graph_detections(
    bundle: TrainedModel, run: GraphRun, part: Dataset
) -> tuple[list[dict], list[dict]]:
    """The stored boxes of every record of ``part`` and a detector's graph's boxes for it
    (``run``: PyTorch's or an export's, :class:`~lumos.tasks.predictor.Predictor`'s outputs)."""

    def find(images: torch.Tensor) -> list[dict[str, torch.Tensor]]:
        shares = bundle.task.split_outputs(run(images.numpy()), len(images))
        names = ("boxes", "scores", "labels")
        return [{k: torch.from_numpy(v) for k, v in zip(names, s, strict=True)} for s in shares]

    loader = BatchLoader(part, 16, targets="boxes")
    return detect_split(find, loader, bundle.preprocessing.input_size)


def _coco_split(bundle: TrainedModel, part: Dataset, trust_code: bool) -> tuple[dict, list]:
    """The COCO ground truth of a split and the bundle's detections on it."""
    run = Predictor(bundle, trust_code=trust_code).outputs
    return coco_documents(*graph_detections(bundle, run, part), part.classes)


def evaluate_detection(
    bundle: TrainedModel, part: Dataset, split: str, out: Path, *, trust_code: bool = False
) -> Report:
    """COCO metrics of a detection bundle on ``split``, with the report written to ``out``:
    metrics.json, per_class.csv, pr_curves.png, confusion.csv/png (with a background row
    and column), and the COCO ground truth and detections as JSON."""
    truth, results = _coco_split(bundle, part, trust_code)
    metrics = detection_report(truth, results, out, score_threshold=bundle.score_threshold)
    out.joinpath("coco_ground_truth.json").write_text(json.dumps(truth))
    out.joinpath("detections.json").write_text(json.dumps(results))
    per_class = [
        {"class": name, "ap": ap}
        for name, ap in zip(metrics["classes"], metrics["map_per_class"], strict=True)
    ]
    summary = {k: v for k, v in metrics.items() if isinstance(v, float)}
    return Report(part.name, split, bundle.labels, summary | {"records": len(part)}, per_class)
