"""Segmentation evaluation of a bundle on a dataset split: mIoU, Dice, pixel accuracy."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from lumos.data import Dataset
from lumos.data.loader import BatchLoader, at_size
from lumos.tasks.base import GraphRun, TrainedModel
from lumos.tasks.predictor import Predictor
from lumos.tasks.report import Report
from lumos.tasks.segmentation.metrics import mask_confusion, segmentation_metrics

MaskFn = Callable[[torch.Tensor], np.ndarray]  # a float batch to (N, H, W) class indices


def graph_masks(run: GraphRun) -> MaskFn:
    """A segmenter's graph as a function from a batch to its masks."""
    return lambda images: run(images.numpy())[0].argmax(1).astype(np.uint8)


@torch.no_grad()
def split_confusion(masks_of: MaskFn, bundle: TrainedModel, part: Dataset) -> np.ndarray:
    """The (K, K) pixel confusion of ``masks_of`` on ``part`` at the network's input size."""
    input_size = bundle.preprocessing.input_size
    confusion = np.zeros((len(bundle.labels),) * 2, dtype=np.int64)
    for images, masks in BatchLoader(part, 32, targets="masks"):
        if tuple(images.shape[2:]) != input_size:
            images = at_size(images, input_size)
            masks = F.interpolate(masks[:, None].float(), size=input_size, mode="nearest")[
                :, 0
            ].long()
        confusion += mask_confusion(
            masks_of(images), masks.numpy().astype(np.uint8), len(bundle.labels)
        )
    return confusion


def evaluate_segmentation(
    bundle: TrainedModel, part: Dataset, split: str, *, trust_code: bool = False
) -> Report:
    """mIoU, Dice and pixel accuracy of a segmentation bundle on ``part`` (a report)."""
    confusion = split_confusion(
        graph_masks(Predictor(bundle, trust_code=trust_code).outputs), bundle, part
    )
    scores = segmentation_metrics(confusion, bundle.labels)
    metrics = {k: float(scores[k]) for k in ("miou", "pixel_accuracy", "mean_dice")} | {
        "records": len(part)
    }
    per_class = [
        {"class": name, "iou": iou, "dice": scores["dice_per_class"][name]}
        for name, iou in scores["iou_per_class"].items()
    ]
    return Report(part.name, split, bundle.labels, metrics, per_class)
