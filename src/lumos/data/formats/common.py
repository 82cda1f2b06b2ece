"""Helpers shared by the format readers and writers: safe paths, walking, JSON, split names."""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, TypeVar

import numpy as np
from PIL import Image

from lumos.data.images import is_image_name
from lumos.data.records import Scan
from lumos.errors import DataError

if TYPE_CHECKING:
    from lumos.data.dataset import Dataset

T = TypeVar("T")
_SPLIT_NAMES = {
    "train": "train",
    "training": "train",
    "trainval": None,
    "val": "val",
    "valid": "val",
    "validation": "val",
    "dev": "val",
    "test": "test",
    "testing": "test",
    "t10k": "test",
}


def split_named(name: str) -> str | None:
    """The split a folder or file name stands for ("valid" -> "val"), or None."""
    return _SPLIT_NAMES.get(name.lower())


def split_in(name: str) -> str | None:
    """The split named anywhere in ``name`` ("instances_val2017.json" -> "val"), or None."""
    lowered = name.lower()
    for word in ("train", "val", "test"):
        if word in lowered:
            return word
    return None


def split_folders(root: Path) -> dict[str, Path]:
    """Sub-folders of ``root`` named after splits, e.g. {"train": root/"train"}."""
    found = {}
    for child in sorted(root.iterdir()) if root.is_dir() else []:
        split = split_named(child.name)
        if split and child.is_dir() and not child.is_symlink():
            found[split] = child
    return found


def split_roots(source: Path, layout: Callable[[Path], T | None]) -> dict[str | None, T]:
    """``layout`` found in each split folder of ``source`` ({split: found}), else in ``source``."""
    roots: dict[str | None, T] = {}
    for split, folder in split_folders(source).items():
        if (found := layout(folder)) is not None:
            roots[split] = found
    if not roots and (found := layout(source)) is not None:
        roots[None] = found
    return roots


def read_class_list(path: Path) -> list[str] | None:
    """Names from a ``classes.txt``, one a line; a leading background entry is dropped."""
    if not path.is_file():
        return None
    names = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if names and names[0].lower().strip("_") == "background":
        names = names[1:]
    return names


def resolve_inside(root: Path, name: str | Path) -> Path:
    """``root / name`` made absolute; :class:`DataError` if it leads outside ``root``."""
    root = root.resolve()
    path = (root / name).resolve()
    if not path.is_relative_to(root):
        raise DataError(name, f"path leads outside the source folder {root}")
    return path


def walk_files(root: Path, scan: Scan) -> Iterator[Path]:
    """Files below ``root`` in sorted order; hidden entries ignored.

    Symlinks to files inside the source folder (``scan.root``, else ``root``) are followed;
    symlinks leading outside it and symlinked folders are reported and skipped.
    """
    real_root = (scan.root or root).resolve()
    for folder, dirs, files in os.walk(root, followlinks=False):
        here = Path(folder)
        dirs.sort()
        for name in list(dirs):
            if name.startswith("."):
                dirs.remove(name)
            elif (here / name).is_symlink():
                dirs.remove(name)
                scan.skip(here / name, "symlinked folder not followed")
        for name in sorted(files):
            path = here / name
            if name.startswith("."):
                continue
            if path.is_symlink() and not path.resolve().is_relative_to(real_root):
                scan.skip(path, "symlink leads outside the source folder")
                continue
            yield path


def image_files(root: Path, scan: Scan) -> Iterator[Path]:
    """Image files below ``root``; other files are reported as skipped."""
    for path in walk_files(root, scan):
        if is_image_name(path):
            yield path
        else:
            scan.skip(path, f"not an image file (extension {path.suffix or 'none'!r})")


def find_image(folder: Path, stem: str) -> Path | None:
    """The image named ``stem`` with any image extension in ``folder``."""
    for candidate in sorted(folder.glob(f"{glob_escape(stem)}.*")):
        if is_image_name(candidate):
            return candidate
    return None


def glob_escape(text: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in text)


def relative_name(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` for reports, with / separators."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def save_image(path: Path, pixels: np.ndarray) -> None:
    """Write (H, W, C) uint8 pixels losslessly as PNG."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels[:, :, 0] if pixels.shape[2] == 1 else pixels).save(path)


def record_name(index: int) -> str:
    return f"{index:06d}"


_SAFE_STEM = re.compile(r"[\w][\w.+-]{0,150}")


def export_stems(dataset: Dataset) -> dict[int, str]:
    """A file stem for each record of ``dataset`` (by record index) when it is written out.

    The source file's own stem where the source was a file (not an element of an array file
    such as MNIST's, ``name[index]``) and its stem is a safe, unique file name; otherwise
    (names repeated in several folders) the record number.
    """
    sources = dataset.store.sources
    stems = {int(i): PurePosixPath(sources[int(i)]).stem for i in dataset.indices}
    counts = Counter(stems.values())
    for index, stem in stems.items():
        source = sources[index]
        usable = not source.endswith("]") and _SAFE_STEM.fullmatch(stem) and counts[stem] == 1
        if not usable:
            stems[index] = record_name(index)
    if len(set(stems.values())) < len(stems):  # a source stem equal to a record number
        return {index: record_name(index) for index in stems}
    return stems
