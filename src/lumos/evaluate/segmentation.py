"""Segmentation metrics from a confusion matrix of pixels: mIoU, per-class IoU, Dice and
pixel accuracy. Pixels marked 255 (ignore) do not count."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from lumos.data.records import IGNORE_INDEX

if TYPE_CHECKING:  # imported lazily below: the trainer imports this module early
    pass


def mask_confusion(predicted: np.ndarray, truth: np.ndarray, num_values: int) -> np.ndarray:
    """A (num_values, num_values) count of true value (rows) against predicted value (columns)."""
    keep = truth != IGNORE_INDEX
    if predicted.shape != truth.shape:
        raise ValueError(
            f"predicted mask {predicted.shape} and true mask {truth.shape} differ in shape"
        )
    index = truth[keep].astype(np.int64) * num_values + predicted[keep].astype(np.int64)
    return np.bincount(index, minlength=num_values * num_values).reshape(num_values, num_values)


def segmentation_metrics(confusion: np.ndarray, names: list[str]) -> dict[str, object]:
    """mIoU over the values present in truth or prediction, per-class IoU and Dice, and
    pixel accuracy."""
    true_positive = np.diag(confusion).astype(np.float64)
    in_truth, in_prediction = confusion.sum(1), confusion.sum(0)
    union = in_truth + in_prediction - true_positive
    present = union > 0
    iou = np.where(present, true_positive / np.maximum(union, 1), np.nan)
    dice = np.where(present, 2 * true_positive / np.maximum(in_truth + in_prediction, 1), np.nan)
    total = confusion.sum()
    return {
        "miou": float(np.nanmean(iou)) if present.any() else 0.0,
        "pixel_accuracy": float(true_positive.sum() / total) if total else 0.0,
        "mean_dice": float(np.nanmean(dice)) if present.any() else 0.0,
        "iou_per_class": {
            n: (None if np.isnan(v) else float(v)) for n, v in zip(names, iou, strict=True)
        },
        "dice_per_class": {
            n: (None if np.isnan(v) else float(v)) for n, v in zip(names, dice, strict=True)
        },
    }


def evaluate_segmentation(bundle, dataset, split: str = "test", *, trust_code: bool = False):
    """mIoU, Dice and pixel accuracy of a segmentation bundle on ``split`` (a report)."""
    import torch
    import torch.nn.functional as F

    from lumos.data.loader import BatchLoader
    from lumos.errors import DataError
    from lumos.evaluate.classification import ClassificationReport

    part = dataset.split(split)
    if not len(part):
        raise DataError(None, f"dataset {dataset.name!r} has no {split} records")
    if ["background", *dataset.classes] != bundle.labels:
        raise DataError(
            None, f"dataset {dataset.name!r} has other classes than model {bundle.name!r}"
        )
    model = bundle.model(trust_code=trust_code)
    input_size = tuple(bundle.preprocessing["input_size"])
    confusion = np.zeros((len(bundle.labels),) * 2, dtype=np.int64)
    with torch.no_grad():
        for images, masks in BatchLoader(part, 32, masks=True):
            if tuple(images.shape[2:]) != input_size:
                images = F.interpolate(images, size=input_size, mode="bilinear", antialias=True)
                masks = F.interpolate(masks[:, None].float(), size=input_size, mode="nearest")[
                    :, 0
                ].long()
            predicted = model(images).float().argmax(1).numpy().astype(np.uint8)
            confusion += mask_confusion(
                predicted, masks.numpy().astype(np.uint8), len(bundle.labels)
            )
    scores = segmentation_metrics(confusion, bundle.labels)
    metrics = {k: float(scores[k]) for k in ("miou", "pixel_accuracy", "mean_dice")} | {
        "records": len(part)
    }
    per_class = [
        {"class": name, "iou": iou, "dice": scores["dice_per_class"][name]}
        for name, iou in scores["iou_per_class"].items()
    ]
    return ClassificationReport(dataset.name, split, bundle.labels, metrics, per_class)
