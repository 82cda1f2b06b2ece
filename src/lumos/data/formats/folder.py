"""Folder per class: ``root/<class>/**/*.jpg``, optionally under ``train/ val/ test/``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from lumos.data.formats.common import (
    export_stems,
    image_files,
    relative_name,
    save_image,
    split_folders,
)
from lumos.data.records import Scan, SourceItem
from lumos.errors import DataError

if TYPE_CHECKING:
    from lumos.data.dataset import Dataset

NAME = "folder"
TASK = "classification"


def sniff(source: Path) -> bool:
    return source.is_dir() and any(p.is_dir() for p in source.iterdir())


def scan(source: Path) -> Scan:
    if not source.is_dir():
        raise DataError(source, "not a folder: the folder format wants one sub-folder per class")
    result = Scan(task="classification", items=[], root=source)
    roots = split_folders(source) or {None: source}
    for split, root in roots.items():
        for entry in sorted(root.iterdir()):
            if entry.name.startswith("."):
                continue
            if entry.is_file():
                result.skip(relative_name(entry, source), "not inside a class folder")
                continue
            if entry.is_symlink():
                result.skip(relative_name(entry, source), "symlinked folder not followed")
                continue
            before = len(result.items)
            for path in image_files(entry, result):
                result.items.append(
                    SourceItem(
                        relative_name(path, source), path=path, labels=(entry.name,), split=split
                    )
                )
            if len(result.items) == before:
                result.warn(relative_name(entry, source), "empty class folder: ignored")
    return result


def write(dataset: Dataset, out: Path) -> None:
    """``out/<split>/<class>/<record>.png``."""
    if not dataset.has_class_labels or dataset.multi_label:
        raise DataError(out, "the folder format holds single-label classification only")
    stems = export_stems(dataset)
    for sample in dataset:
        name = dataset.classes[sample.label]
        if "/" in name or name in {".", ".."}:
            raise DataError(out, f"class name {name!r} cannot be a folder name")
        save_image(out / sample.split / name / f"{stems[sample.index]}.png", sample.image)
