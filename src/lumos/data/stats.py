"""Dataset statistics: class counts per split, per-channel mean/std and the mean image."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lumos.data.records import SPLITS
from lumos.data.store import StoreReader

_CHUNK = 1024


@dataclass
class ImageStats:
    mean: list[float]  # per channel, in 0-1
    std: list[float]
    mean_image: np.ndarray  # (H, W, C) float32 in 0-255


def image_stats(store: StoreReader, indices: np.ndarray) -> ImageStats:
    """Per-channel mean/std and the mean image over ``indices``, read in chunks."""
    first = store.image(int(indices[0]))
    total = np.zeros(first.shape, dtype=np.float64)
    squares = np.zeros(first.shape[-1], dtype=np.float64)
    for start in range(0, len(indices), _CHUNK):
        batch = store.images(indices[start : start + _CHUNK]).astype(np.float64)
        total += batch.sum(axis=0)
        squares += np.square(batch).sum(axis=(0, 1, 2))
    n_pixels = len(indices) * first.shape[0] * first.shape[1]
    mean_image = total / len(indices)
    channel_mean = total.sum(axis=(0, 1)) / n_pixels
    channel_var = np.maximum(squares / n_pixels - channel_mean**2, 0.0)
    return ImageStats(
        mean=[float(m / 255) for m in channel_mean],
        std=[float(np.sqrt(v) / 255) for v in channel_var],
        mean_image=mean_image.astype(np.float32),
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
