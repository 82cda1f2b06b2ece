"""MNIST IDX files (``train-images-idx3-ubyte[.gz]`` and friends), as from LeCun's site.

Also reads Fashion-MNIST and KMNIST, which share the format. ``download`` fetches the four
files; the tests write small IDX files of their own.
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from lumos.data.download import fetch
from lumos.data.formats.common import split_named
from lumos.data.records import Scan, SourceItem
from lumos.errors import DataError

if TYPE_CHECKING:
    from lumos.data.dataset import Dataset

NAME = "mnist"
TASK = "classification"
MIRROR = "https://ossci-datasets.s3.amazonaws.com/mnist/"
FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)
_UBYTE = 0x08


def _pairs(source: Path) -> dict[str, tuple[Path, Path]]:
    """{split: (images file, labels file)} found in ``source``."""
    pairs = {}
    for images in sorted(source.glob("*-images-idx3-ubyte*")):
        prefix = images.name.split("-images-")[0]
        suffix = images.name.split("-idx3-ubyte")[1]
        labels = source / f"{prefix}-labels-idx1-ubyte{suffix}"
        split = split_named(prefix)
        if split and labels.is_file():
            pairs[split] = (images, labels)
    return pairs


def sniff(source: Path) -> bool:
    return source.is_dir() and bool(_pairs(source))


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (gzip or not) as a uint8 array of the dimensions it declares."""
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError) as e:
        raise DataError(path, f"cannot read IDX file: {e}") from None
    if len(raw) < 4 or raw[0:2] != b"\x00\x00":
        raise DataError(path, "not an IDX file: bad magic number")
    dtype, ndim = raw[2], raw[3]
    if dtype != _UBYTE:
        raise DataError(path, f"IDX data type 0x{dtype:02x} is not unsigned bytes")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(path, "IDX file is truncated in its header")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    expected = int(np.prod(dims))
    if len(raw) - header != expected:
        raise DataError(
            path, f"IDX file holds {len(raw) - header} data bytes, its header declares {expected}"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def scan(source: Path) -> Scan:
    pairs = _pairs(source) if source.is_dir() else {}
    if not pairs:
        raise DataError(source, "no *-images-idx3-ubyte with matching *-labels-idx1-ubyte files")
    result = Scan(task="classification", items=[])
    highest = 0
    for split, (images_path, labels_path) in pairs.items():
        images, labels = read_idx(images_path), read_idx(labels_path)
        if images.ndim != 3 or labels.ndim != 1:
            raise DataError(
                images_path,
                f"expected N x H x W images and N labels, got {images.shape} and {labels.shape}",
            )
        if len(images) != len(labels):
            raise DataError(labels_path, f"{len(labels)} labels for {len(images)} images")
        highest = max(highest, int(labels.max(initial=0)))
        for i, (pixels, label) in enumerate(zip(images, labels, strict=True)):
            result.items.append(
                SourceItem(
                    f"{images_path.name}[{i}]", pixels=pixels, labels=(str(label),), split=split
                )
            )
    result.classes = [str(i) for i in range(highest + 1)]
    return result


def write_idx(path: Path, array: np.ndarray) -> None:
    header = bytes([0, 0, _UBYTE, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + np.ascontiguousarray(array, dtype=np.uint8).tobytes())


def write(dataset: Dataset, out: Path) -> None:
    """``out/<split>-images-idx3-ubyte`` and ``-labels-idx1-ubyte`` for each split."""
    if not dataset.has_class_labels or dataset.multi_label or dataset.channels != 1:
        raise DataError(out, "the MNIST format holds single-label grayscale classification only")
    if not all(name == str(i) for i, name in enumerate(dataset.classes)):
        raise DataError(out, "the MNIST format needs classes named 0, 1, 2, ... in order")
    out.mkdir(parents=True, exist_ok=True)
    for split in ("train", "val", "test"):
        part = dataset.split(split)
        if not len(part):
            continue
        prefix = "t10k" if split == "test" else split
        write_idx(out / f"{prefix}-images-idx3-ubyte", part.images(np.arange(len(part)))[..., 0])
        write_idx(out / f"{prefix}-labels-idx1-ubyte", part.labels().astype(np.uint8))


def download(folder: Path) -> None:
    """Fetch the four MNIST files into ``folder`` unless already there."""
    for name in FILES:
        fetch(MIRROR + name, folder / name)
