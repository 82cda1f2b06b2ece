"""The on-disk dataset store: preprocessed uint8 arrays in memory-mapped shards.

A dataset folder holds::

    dataset.json          manifest (task, classes, size, splits, statistics, options)
    images-00000.npy ...  (n, H, W, C) uint8 shards
    masks-00000.npy ...   (n, H, W) uint8 shards, when the dataset has masks
    labels.npy            (N,) int64 class index (-1: none), or (N, K) uint8 multi-hot
    splits.npy            (N,) uint8 index into SPLITS
    box_offsets.npy       (N + 1,) int64: boxes of record i are rows offsets[i]:offsets[i+1]
    boxes.npy, box_labels.npy, box_crowd.npy
    sources.json          the original path (or file[index]) of each record
    report.json           every skipped file, dropped annotation and warning, with its reason
    mean.npy, mean.png    the mean image of the train split

Raw arrays are chosen over re-encoded images because an epoch then costs a memory copy,
not a decode; see docs/BENCHMARKS.md for the measurement.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from lumos.data.decode import Decoded
from lumos.errors import DataError

SHARD_BYTES = 256 * 2**20
MANIFEST = "dataset.json"


class StoreWriter:
    """Appends decoded records to a store folder, one shard at a time."""

    def __init__(
        self, folder: Path, image_shape: tuple[int, int, int], *, with_masks: bool
    ) -> None:
        self.folder = folder
        self.image_shape = image_shape
        self.with_masks = with_masks
        self.per_shard = max(1, SHARD_BYTES // int(np.prod(image_shape)))
        self._images: list[np.ndarray] = []
        self._masks: list[np.ndarray] = []
        self._shards = 0
        self.labels: list[tuple[int, ...]] = []
        self.splits: list[int] = []
        self.sources: list[str] = []
        self.digests: list[str] = []
        self._boxes: list[np.ndarray] = []
        self._box_labels: list[np.ndarray] = []
        self._crowd: list[np.ndarray] = []

    def __len__(self) -> int:
        return len(self.sources)

    def append(self, record: Decoded, *, split: int, source: str) -> None:
        self._images.append(record.image)
        if self.with_masks:
            mask = (
                record.mask if record.mask is not None else np.zeros(self.image_shape[:2], np.uint8)
            )
            self._masks.append(mask)
        self.labels.append(record.labels)
        self.splits.append(split)
        self.sources.append(source)
        self.digests.append(record.digest)
        self._boxes.append(record.boxes)
        self._box_labels.append(record.box_labels)
        self._crowd.append(record.crowd)
        if len(self._images) == self.per_shard:
            self._flush()

    def _flush(self) -> None:
        if not self._images:
            return
        np.save(self.folder / f"images-{self._shards:05d}.npy", np.stack(self._images))
        if self.with_masks:
            np.save(self.folder / f"masks-{self._shards:05d}.npy", np.stack(self._masks))
        self._images, self._masks = [], []
        self._shards += 1

    def close(self, *, num_classes: int, multi_label: bool) -> None:
        """Flush the last shard and write the per-record arrays."""
        self._flush()
        if multi_label:
            labels = np.zeros((len(self), num_classes), dtype=np.uint8)
            for row, indices in enumerate(self.labels):
                labels[row, list(indices)] = 1
        else:
            labels = np.array([lab[0] if lab else -1 for lab in self.labels], dtype=np.int64)
        counts = [len(b) for b in self._boxes]
        arrays = {
            "labels": labels,
            "splits": np.asarray(self.splits, dtype=np.uint8),
            "box_offsets": np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
            "boxes": np.concatenate(self._boxes or [np.zeros((0, 4))])
            .astype(np.float32)
            .reshape(-1, 4),
            "box_labels": np.concatenate(self._box_labels or [np.zeros(0)]).astype(np.int64),
            "box_crowd": np.concatenate(self._crowd or [np.zeros(0)]).astype(bool),
        }
        for name, array in arrays.items():
            np.save(self.folder / f"{name}.npy", array)
        (self.folder / "sources.json").write_text(json.dumps(self.sources, ensure_ascii=False))


class StoreReader:
    """Memory-mapped read access to a store folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        try:
            self._images = [np.load(p, mmap_mode="r") for p in sorted(folder.glob("images-*.npy"))]
            self._masks = [np.load(p, mmap_mode="r") for p in sorted(folder.glob("masks-*.npy"))]
            self.labels = np.load(folder / "labels.npy")
            self.splits = np.load(folder / "splits.npy")
            self.box_offsets = np.load(folder / "box_offsets.npy")
            self.boxes = np.load(folder / "boxes.npy")
            self.box_labels = np.load(folder / "box_labels.npy")
            self.box_crowd = np.load(folder / "box_crowd.npy")
        except (OSError, ValueError) as e:
            raise DataError(folder, f"dataset store is damaged: {e}") from None
        sizes = [len(a) for a in self._images]
        self._starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self._sources: list[str] | None = None
        if self._starts[-1] != len(self.splits):
            raise DataError(folder, "dataset store is damaged: image shards and records disagree")

    def __len__(self) -> int:
        return len(self.splits)

    @property
    def has_masks(self) -> bool:
        return bool(self._masks)

    @property
    def sources(self) -> list[str]:
        if self._sources is None:
            self._sources = json.loads((self.folder / "sources.json").read_text())
        return self._sources

    def _locate(self, index: int) -> tuple[int, int]:
        if not 0 <= index < len(self):
            raise IndexError(f"record {index} out of range 0-{len(self) - 1}")
        shard = int(np.searchsorted(self._starts, index, side="right")) - 1
        return shard, index - int(self._starts[shard])

    def image(self, index: int) -> np.ndarray:
        shard, row = self._locate(index)
        return np.asarray(self._images[shard][row])

    def mask(self, index: int) -> np.ndarray | None:
        if not self._masks:
            return None
        shard, row = self._locate(index)
        return np.asarray(self._masks[shard][row])

    def images(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """A batch of images (n, H, W, C), read shard by shard in sorted order."""
        indices = np.asarray(indices, dtype=np.int64)
        first = self._images[0]
        out = np.empty((len(indices), *first.shape[1:]), dtype=np.uint8)
        shards = np.searchsorted(self._starts, indices, side="right") - 1
        for shard in np.unique(shards):
            hit = np.flatnonzero(shards == shard)
            rows = indices[hit] - self._starts[shard]
            order = np.argsort(rows, kind="stable")
            out[hit[order]] = self._images[shard][rows[order]]
        return out

    def boxes_of(self, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        lo, hi = self.box_offsets[index], self.box_offsets[index + 1]
        return self.boxes[lo:hi], self.box_labels[lo:hi], self.box_crowd[lo:hi]


def read_manifest(folder: Path) -> dict:
    path = folder / MANIFEST
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise DataError(folder, "not a lumos dataset (no dataset.json)") from None
    except (OSError, ValueError) as e:
        raise DataError(path, f"unreadable manifest: {e}") from None
