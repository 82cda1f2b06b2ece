"""Dataset statistics: class counts per split, per-channel mean/std and the mean image."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lumos.data.records import SPLITS
from lumos.data.store import StoreReader


@dataclass
class ImageStats:
    mean: list[float]  # per channel, in 0-1
    std: list[float]
    mean_image: np.ndarray  # (H, W, C) float32 in 0-255


class StatsAccumulator:
    """Per-channel mean/std from exact 8-bit histograms, and the mean image, fed in batches."""

    def __init__(self, shape: tuple[int, int, int]) -> None:
        self.count = 0
        self.total = np.zeros(shape, dtype=np.int64)
        self.histograms = np.zeros((shape[2], 256), dtype=np.int64)

    def add(self, batch: np.ndarray) -> None:
        """Add (n, H, W, C) uint8 images."""
        self.count += len(batch)
        self.total += batch.sum(axis=0, dtype=np.int64)
        for c in range(batch.shape[3]):
            self.histograms[c] += np.bincount(batch[..., c].ravel(), minlength=256)

    def result(self) -> ImageStats:
        levels = np.arange(256, dtype=np.float64)
        pixels = np.maximum(self.histograms.sum(axis=1), 1)
        mean = self.histograms @ levels / pixels
        variance = np.maximum(self.histograms @ levels**2 / pixels - mean**2, 0.0)
        return ImageStats(
            mean=[float(m / 255) for m in mean],
            std=[float(np.sqrt(v) / 255) for v in variance],
            mean_image=(self.total / max(self.count, 1)).astype(np.float32),
        )


def class_counts(
    store: StoreReader, classes: list[str], *, multi_label: bool
) -> dict[str, dict[str, int]]:
    """For each split, how many records (classification) or boxes/masks carry each class."""
    counts: dict[str, dict[str, int]] = {}
    for code, split in enumerate(SPLITS):
        rows = np.flatnonzero(store.splits == code)
        if not len(rows):
            continue
        per_class = np.zeros(len(classes), dtype=np.int64)
        if multi_label:
            per_class += store.labels[rows].sum(axis=0).astype(np.int64)
        elif store.labels.ndim == 1 and (store.labels[rows] >= 0).any():
            labelled = store.labels[rows]
            per_class += np.bincount(labelled[labelled >= 0], minlength=len(classes))
        if len(store.box_labels):
            box_rows = np.concatenate(
                [np.arange(store.box_offsets[i], store.box_offsets[i + 1]) for i in rows]
            ).astype(np.int64)
            per_class += np.bincount(store.box_labels[box_rows], minlength=len(classes))
        elif store.has_masks:
            for i in rows:
                present = np.unique(store.mask(int(i)))
                present = present[present < len(classes)]
                per_class[present] += 1
        counts[split] = {name: int(n) for name, n in zip(classes, per_class, strict=True)}
    return counts


def box_stats(store: StoreReader) -> dict[str, object] | None:
    """Box sizes in stored pixels (5th, 50th, 95th percentiles) and boxes per image."""
    if not len(store.boxes):
        return None
    widths = store.boxes[:, 2] - store.boxes[:, 0]
    heights = store.boxes[:, 3] - store.boxes[:, 1]
    per_image = np.diff(store.box_offsets)

    def percentiles(values: np.ndarray) -> list[float]:
        return [round(float(v), 2) for v in np.percentile(values, [5, 50, 95])]

    return {
        "count": len(store.boxes),
        "width_p5_p50_p95": percentiles(widths),
        "height_p5_p50_p95": percentiles(heights),
        "aspect_p5_p50_p95": percentiles(widths / np.maximum(heights, 1e-6)),
        "per_image_mean": round(float(per_image.mean()), 3),
        "per_image_max": int(per_image.max()),
        "images_without_boxes": int((per_image == 0).sum()),
    }
