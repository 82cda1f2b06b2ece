"""Segmentation metrics from a confusion matrix of pixels: mIoU, per-class IoU, Dice and
pixel accuracy. Pixels marked 255 (ignore) do not count."""

from __future__ import annotations

import numpy as np

from lumos.data.records import IGNORE_INDEX


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
