"""CIFAR-10 and CIFAR-100 "python version" batches.

The batches are pickles. They are read with an unpickler that builds numpy arrays and
nothing else, so a hostile file cannot run code.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lumos.data.download import extract_tar, fetch
from lumos.data.records import Scan, SourceItem
from lumos.errors import DataError

if TYPE_CHECKING:
    from lumos.data.dataset import Dataset

NAME = "cifar"
TASK = "classification"
URLS = {
    "cifar10": "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
    "cifar100": "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
}
_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),
}
_SPLITS = {
    "data_batch": "train",
    "train": "train",
    "val_batch": "val",
    "test_batch": "test",
    "test": "test",
}


class _ArrayUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(
            f"refusing to load {module}.{name}: CIFAR batches hold only arrays"
        )


def load_batch(path: Path) -> dict[str, Any]:
    """A CIFAR batch as a dict with str keys; :class:`DataError` if unsafe or malformed."""
    try:
        raw = _ArrayUnpickler(io.BytesIO(path.read_bytes()), encoding="bytes").load()
    except (
        pickle.UnpicklingError,
        EOFError,
        ValueError,
        TypeError,
        AttributeError,
        IndexError,
    ) as e:
        raise DataError(path, f"not a CIFAR batch: {e}") from None
    except OSError as e:
        raise DataError(path, f"cannot read: {e.strerror}") from None
    if not isinstance(raw, dict):
        raise DataError(path, "not a CIFAR batch: expected a dictionary")
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in raw.items()}


def _batches(source: Path) -> list[tuple[str, Path]]:
    found = []
    for path in sorted(source.iterdir()) if source.is_dir() else []:
        split = next(
            (
                s
                for prefix, s in _SPLITS.items()
                if path.name == prefix or path.name.startswith(prefix + "_")
            ),
            None,
        )
        if split and path.is_file():
            found.append((split, path))
    return found


def sniff(source: Path) -> bool:
    return bool(_batches(source)) and (
        (source / "batches.meta").is_file() or (source / "meta").is_file()
    )


def _label_names(source: Path) -> list[str] | None:
    for meta_name, key in (("batches.meta", "label_names"), ("meta", "fine_label_names")):
        if (source / meta_name).is_file():
            names = load_batch(source / meta_name).get(key)
            if isinstance(names, list):
                return [n.decode() if isinstance(n, bytes) else str(n) for n in names]
    return None


def scan(source: Path) -> Scan:
    batches = _batches(source)
    if not batches:
        raise DataError(source, "no CIFAR batches (data_batch_*, test_batch, train, test) here")
    names = _label_names(source)
    result = Scan(task="classification", items=[])
    highest = 0
    for split, path in batches:
        batch = load_batch(path)
        data = batch.get("data")
        labels = batch.get("labels", batch.get("fine_labels"))
        if (
            not isinstance(data, np.ndarray)
            or data.ndim != 2
            or data.shape[1] != 3072
            or labels is None
        ):
            raise DataError(path, "not a CIFAR batch: expected 'data' of N x 3072 bytes and labels")
        labels = np.asarray(labels, dtype=np.int64)
        if len(labels) != len(data):
            raise DataError(path, f"{len(labels)} labels for {len(data)} images")
        pixels = data.astype(np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        highest = max(highest, int(labels.max(initial=0)))
        for i, (image, label) in enumerate(zip(pixels, labels, strict=True)):
            name = names[label] if names and 0 <= label < len(names) else str(label)
            result.items.append(
                SourceItem(f"{path.name}[{i}]", pixels=image, labels=(name,), split=split)
            )
    result.classes = names if names else [str(i) for i in range(highest + 1)]
    return result


def write(dataset: Dataset, out: Path) -> None:
    """CIFAR-10 layout: ``data_batch_1``, ``val_batch``, ``test_batch`` and ``batches.meta``."""
    if not dataset.has_class_labels or dataset.multi_label:
        raise DataError(out, "the CIFAR format holds single-label classification only")
    if dataset.size != (32, 32) or dataset.channels != 3:
        raise DataError(out, "the CIFAR format holds 32x32 RGB images only")
    out.mkdir(parents=True, exist_ok=True)
    names = {"train": "data_batch_1", "val": "val_batch", "test": "test_batch"}
    for split, file_name in names.items():
        part = dataset.split(split)
        if not len(part):
            continue
        images = part.images(np.arange(len(part))).transpose(0, 3, 1, 2).reshape(len(part), -1)
        batch = {"data": images, "labels": part.labels().tolist(), "batch_label": split}
        (out / file_name).write_bytes(pickle.dumps(batch, protocol=2))
    meta = {"label_names": dataset.classes, "num_cases_per_batch": len(dataset)}
    (out / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))


def download(folder: Path, variant: str = "cifar10") -> Path:
    """Fetch and unpack CIFAR-10 or CIFAR-100 into ``folder``; returns the batches folder."""
    archive = fetch(URLS[variant], folder / URLS[variant].rsplit("/", 1)[1])
    inner = folder / ("cifar-10-batches-py" if variant == "cifar10" else "cifar-100-python")
    if not inner.is_dir():
        extract_tar(archive, folder)
    return inner
