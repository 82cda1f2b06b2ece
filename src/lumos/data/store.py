"""The on-disk dataset store: preprocessed uint8 arrays in memory-mapped shards.

A dataset folder holds::

    dataset.json          manifest (task, classes, size, splits, statistics, options)
    store.json            image shape and the number of records in each shard
    images-00000.u8 ...   raw (n, H, W, C) uint8 shards, records back to back; or
    images-00000.jpeg|png and image_index.npy: re-encoded images (lumos.data.encoded)
    masks-00000.u8 ...    raw (n, H, W) uint8 shards, when the dataset has masks
    labels.npy            (N,) int64 class index (-1: none), or (N, K) uint8 multi-hot
    splits.npy            (N,) uint8 index into SPLITS
    box_offsets.npy       (N + 1,) int64: boxes of record i are rows offsets[i]:offsets[i+1]
    boxes.npy, box_labels.npy, box_crowd.npy
    sources.json          the original path (or file[index]) of each record
    report.json           every skipped file, dropped annotation and warning, with its reason
    mean.npy, mean.png    the mean image of the train split

Raw arrays are the default because an epoch then costs a memory copy, not a decode; see
docs/BENCHMARKS.md for the measurement. Above a size (``encoding: auto``) images are
re-encoded as JPEG instead, so that a large set does not need ten times its disk. Shards
are written as a stream, so an import holds one record in memory, not the dataset.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np

from lumos.data.decode import Decoded
from lumos.data.encoded import EncodedImages, EncodedWriter, Encoding
from lumos.errors import DataError

SHARD_BYTES = 1 << 30
MANIFEST = "dataset.json"
LAYOUT = "store.json"


class StoreWriter:
    """Streams decoded records into shard files; memory use stays at one record."""

    def __init__(
        self,
        folder: Path,
        image_shape: tuple[int, int, int],
        *,
        with_masks: bool,
        encoding: Encoding = "raw",
    ) -> None:
        self.folder = folder
        self.image_shape = image_shape
        self.with_masks = with_masks
        self.encoded = EncodedWriter(encoding) if encoding != "raw" else None
        self.per_shard = max(1, SHARD_BYTES // int(np.prod(image_shape)))
        self._files: list[BinaryIO] = []
        self.shard_sizes: list[int] = []
        self.labels: list[tuple[int, ...]] = []
        self.splits: list[int] = []
        self.sources: list[str] = []
        self.digests: list[str] = []
        self._boxes: list[np.ndarray] = []
        self._box_labels: list[np.ndarray] = []
        self._crowd: list[np.ndarray] = []

    def __len__(self) -> int:
        return len(self.sources)

    def __enter__(self) -> StoreWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        # Open shards keep their disk space even once the staging folder is removed.
        self._close_files()

    def append(self, record: Decoded, *, split: int, source: str) -> None:
        if not self.shard_sizes or self.shard_sizes[-1] == self.per_shard:
            self._next_shard()
        image_file, *mask_file = self._files
        if self.encoded is not None:
            self.encoded.write(image_file, len(self.shard_sizes) - 1, record.image)
        else:
            image_file.write(record.image.tobytes())
        if mask_file:
            mask = (
                record.mask if record.mask is not None else np.zeros(self.image_shape[:2], np.uint8)
            )
            mask_file[0].write(mask.tobytes())
        self.shard_sizes[-1] += 1
        self.labels.append(record.labels)
        self.splits.append(split)
        self.sources.append(source)
        self.digests.append(record.digest)
        self._boxes.append(record.boxes)
        self._box_labels.append(record.box_labels)
        self._crowd.append(record.crowd)

    def _next_shard(self) -> None:
        self._close_files()
        number = len(self.shard_sizes)
        image = "u8" if self.encoded is None else self.encoded.encoding
        names = [f"images-{number:05d}.{image}", *([f"masks-{number:05d}.u8"] * self.with_masks)]
        self._files = [(self.folder / name).open("wb") for name in names]
        self.shard_sizes.append(0)

    def _close_files(self) -> None:
        for file in self._files:
            file.close()
        self._files = []

    def close(self, *, num_classes: int, multi_label: bool) -> None:
        """Close the shards and write the per-record arrays and the layout."""
        self._close_files()
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
            "boxes": np.concatenate([np.zeros((0, 4)), *self._boxes]).astype(np.float32),
            "box_labels": np.concatenate([np.zeros(0), *self._box_labels]).astype(np.int64),
            "box_crowd": np.concatenate([np.zeros(0), *self._crowd]).astype(bool),
        }
        for name, array in arrays.items():
            np.save(self.folder / f"{name}.npy", array)
        (self.folder / "sources.json").write_text(json.dumps(self.sources, ensure_ascii=False))
        if self.encoded is not None:
            self.encoded.save(self.folder)
        layout = {
            "image_shape": list(self.image_shape),
            "shards": self.shard_sizes,
            "masks": self.with_masks,
            "encoding": "raw" if self.encoded is None else self.encoded.encoding,
        }
        (self.folder / LAYOUT).write_text(json.dumps(layout))


class StoreReader:
    """Memory-mapped read access to a store folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        try:
            layout = json.loads((folder / LAYOUT).read_text())
            shape = tuple(layout["image_shape"])
            shards = [int(n) for n in layout["shards"]]
            self.encoding: str = layout.get("encoding", "raw")
            self._images = (
                [_map(folder / f"images-{i:05d}.u8", (n, *shape)) for i, n in enumerate(shards)]
                if self.encoding == "raw"
                else EncodedImages(folder, self.encoding, len(shards), shape)  # type: ignore[arg-type]
            )
            self._masks = (
                [_map(folder / f"masks-{i:05d}.u8", (n, *shape[:2])) for i, n in enumerate(shards)]
                if layout["masks"]
                else []
            )
            self.labels = np.load(folder / "labels.npy")
            self.splits = np.load(folder / "splits.npy")
            self.box_offsets = np.load(folder / "box_offsets.npy")
            self.boxes = np.load(folder / "boxes.npy")
            self.box_labels = np.load(folder / "box_labels.npy")
            self.box_crowd = np.load(folder / "box_crowd.npy")
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise DataError(folder, f"dataset store is damaged: {e}") from None
        self._starts = np.concatenate([[0], np.cumsum(shards)]).astype(np.int64)
        self._sources: list[str] | None = None
        stored = len(self._images) if isinstance(self._images, EncodedImages) else self._starts[-1]
        if self._starts[-1] != len(self.splits) or stored != len(self.splits):
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
        if isinstance(self._images, EncodedImages):
            return self._images.one(index)
        return np.array(self._images[shard][row])  # a copy: callers may write to it

    def mask(self, index: int) -> np.ndarray | None:
        if not self._masks:
            return None
        shard, row = self._locate(index)
        return np.array(self._masks[shard][row])

    def images(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """A batch of images (n, H, W, C), read shard by shard in sorted order (or decoded)."""
        if isinstance(self._images, EncodedImages):
            return self._images.gather(indices)
        return _gather(self._images, self._starts, indices)

    def masks(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """A batch of class-index masks (n, H, W)."""
        if not self._masks:
            raise DataError(self.folder, "this dataset has no masks")
        return _gather(self._masks, self._starts, indices)

    def boxes_of(self, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        lo, hi = self.box_offsets[index], self.box_offsets[index + 1]
        return self.boxes[lo:hi], self.box_labels[lo:hi], self.box_crowd[lo:hi]


def _gather(
    shards: list[np.ndarray], starts: np.ndarray, indices: Sequence[int] | np.ndarray
) -> np.ndarray:
    """Rows ``indices`` of the shards seen as one array, each shard read in sorted order."""
    indices = np.asarray(indices, dtype=np.int64)
    out = np.empty((len(indices), *shards[0].shape[1:]), dtype=np.uint8)
    owner = np.searchsorted(starts, indices, side="right") - 1
    for shard in np.unique(owner):
        hit = np.flatnonzero(owner == shard)
        rows = indices[hit] - starts[shard]
        order = np.argsort(rows, kind="stable")
        out[hit[order]] = shards[shard][rows[order]]
    return out


def _map(path: Path, shape: tuple[int, ...]) -> np.ndarray:
    """A read-only memory map of a raw uint8 shard, checked against its expected size."""
    expected = int(np.prod(shape))
    if path.stat().st_size != expected:
        raise ValueError(f"{path.name} holds {path.stat().st_size} bytes, expected {expected}")
    return np.memmap(path, dtype=np.uint8, mode="r", shape=shape)


def read_manifest(folder: Path) -> dict:
    path = folder / MANIFEST
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise DataError(folder, "not a lumos dataset (no dataset.json)") from None
    except (OSError, ValueError) as e:
        raise DataError(path, f"unreadable manifest: {e}") from None
