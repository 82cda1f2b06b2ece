"""Image shards re-encoded as JPEG or PNG: a large dataset in a fraction of its raw size.

Raw uint8 shards cost ``H x W x C`` bytes an image (224x224x3 x 100,000 images: 15 GB);
re-encoded at import they cost about what the source files did, at the price of a decode
per image per epoch, which the loader's threads pay (Pillow decodes with the GIL released).
A shard ``images-00000.jpeg`` holds the encoded images back to back; ``image_index.npy``
holds, per record, its shard, offset and length.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO, Literal

import numpy as np
from PIL import Image

from lumos.errors import DataError

Encoding = Literal["raw", "jpeg", "png"]
INDEX = "image_index.npy"
JPEG_QUALITY = 95
AUTO_ABOVE = 2 << 30  # raw bytes above which "auto" stores JPEG


def chosen(encoding: str, records: int, shape: tuple[int, int, int]) -> Encoding:
    """``encoding``, with ``auto`` resolved: JPEG when the raw arrays would pass
    :data:`AUTO_ABOVE` bytes, else raw (the fastest to read)."""
    if encoding != "auto":
        return encoding  # type: ignore[return-value]
    return "jpeg" if records * int(np.prod(shape)) > AUTO_ABOVE else "raw"


def encode(image: np.ndarray, encoding: Encoding) -> bytes:
    """One (H, W, C) uint8 image as JPEG (quality 95, no chroma subsampling) or PNG."""
    picture = Image.fromarray(image[:, :, 0] if image.shape[2] == 1 else image)
    buffer = io.BytesIO()
    if encoding == "jpeg":
        picture.save(buffer, format="JPEG", quality=JPEG_QUALITY, subsampling=0)
    else:
        picture.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


class EncodedWriter:
    """Appends encoded images to the current shard file and notes where each one went."""

    def __init__(self, encoding: Encoding) -> None:
        self.encoding = encoding
        self.index: list[tuple[int, int, int]] = []
        self.bytes = 0

    def write(self, file: BinaryIO, shard: int, image: np.ndarray) -> None:
        data = encode(image, self.encoding)
        self.index.append((shard, file.tell(), len(data)))
        file.write(data)
        self.bytes += len(data)

    def save(self, folder: Path) -> None:
        np.save(folder / INDEX, np.asarray(self.index, dtype=np.int64).reshape(-1, 3))


class EncodedImages:
    """Read access to encoded shards: ``gather(indices)`` decodes a batch."""

    def __init__(self, folder: Path, encoding: Encoding, shards: int, shape: tuple[int, ...]):
        self.folder = folder
        self.shape = shape
        self.index = np.load(folder / INDEX)
        self.files = [
            np.memmap(p, dtype=np.uint8, mode="r") if p.stat().st_size else np.zeros(0, np.uint8)
            for p in (folder / f"images-{i:05d}.{encoding}" for i in range(shards))
        ]
        ends = self.index[:, 1] + self.index[:, 2]
        for shard, file in enumerate(self.files):
            mine = self.index[:, 0] == shard
            if mine.any() and ends[mine].max() > len(file):
                raise ValueError(f"images-{shard:05d}.{encoding} is shorter than its index says")

    def __len__(self) -> int:
        return len(self.index)

    def one(self, index: int) -> np.ndarray:
        shard, start, length = (int(v) for v in self.index[index])
        data = self.files[shard][start : start + length]
        try:
            with Image.open(io.BytesIO(data.tobytes())) as picture:
                return np.asarray(picture).reshape(self.shape)
        except (OSError, ValueError, SyntaxError) as e:  # Pillow's ways of saying "broken"
            raise DataError(
                self.folder, f"record {index}: its stored image is damaged: {e}"
            ) from None

    def gather(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        indices = np.asarray(indices, dtype=np.int64)
        out = np.empty((len(indices), *self.shape), dtype=np.uint8)
        for row, index in enumerate(indices):
            out[row] = self.one(int(index))
        return out
