"""KITTI object labels, the format of DIGITS' DetectNet.

Folders ``image_2/`` + ``label_2/`` (KITTI) or ``images/`` + ``labels/`` (DIGITS), optionally
under ``train/ val/ test/``, or under one folder of another name (datumaro's ``default/``:
its images split as lumos splits them). A label line is ``type truncated occluded alpha x1
y1 x2 y2 h w l x y z ry [score]``; only type and the box are used. ``DontCare`` regions are
not objects and are left out. Classes follow ``classes.txt`` if present.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from lumos.data.formats.common import (
    export_stems,
    image_files,
    read_class_list,
    relative_name,
    save_image,
    split_roots,
)
from lumos.data.records import Box, Scan, SourceItem
from lumos.errors import DataError

if TYPE_CHECKING:
    from lumos.data.dataset import Dataset

NAME = "kitti"
TASK = "detection"
_LAYOUTS = (("image_2", "label_2"), ("images", "labels"))


def _pairs(folder: Path) -> tuple[Path, Path] | None:
    for images, labels in _LAYOUTS:
        if (folder / images).is_dir() and (folder / labels).is_dir():
            return folder / images, folder / labels
    return None


def _roots(source: Path) -> dict[str | None, tuple[Path, Path]]:
    """The image and label folders by split; a single folder of another name (datumaro's
    subset ``default``) is taken as the whole set."""
    found = split_roots(source, _pairs)
    if found or not source.is_dir():
        return found
    subsets = [pair for child in sorted(source.iterdir()) if child.is_dir()
               and not child.is_symlink() and (pair := _pairs(child)) is not None]  # fmt: skip
    return {None: subsets[0]} if len(subsets) == 1 else {}


def sniff(source: Path) -> bool:
    return source.is_dir() and any(
        _looks_like_kitti(labels) for _, labels in _roots(source).values()
    )


def _looks_like_kitti(labels: Path) -> bool:
    """Whether the first label file with a line has KITTI's 15 (or 16) fields."""
    for path in sorted(labels.glob("*.txt")):
        line = path.read_text(encoding="utf-8", errors="replace").strip().split("\n")[0]
        if line:
            return len(line.split()) in (15, 16)
    return False


def scan(source: Path) -> Scan:
    roots = _roots(source)
    if not roots:
        raise DataError(source, "no image_2/ + label_2/ (or images/ + labels/) folders: not KITTI")
    result = Scan(
        task="detection", items=[], root=source, classes=read_class_list(source / "classes.txt")
    )
    for split, (images, labels) in roots.items():
        for image in image_files(images, result):
            name = relative_name(image, source)
            label_file = labels / image.relative_to(images).with_suffix(".txt")
            try:
                boxes = (
                    _read_labels(label_file, relative_name(label_file, source), result)
                    if label_file.is_file()
                    else ()
                )
            except UnicodeDecodeError:
                result.skip(relative_name(label_file, source), "label file is not text")
                continue
            result.items.append(SourceItem(name, path=image, boxes=boxes, split=split))
    return result


def _read_labels(path: Path, name: str, result: Scan) -> tuple[Box, ...]:
    boxes = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) not in (15, 16):
            result.drop(f"{name}:{number}", f"expected 15 or 16 fields, got {len(fields)}: dropped")
            continue
        if fields[0] == "DontCare":
            continue
        try:
            x1, y1, x2, y2 = (float(v) for v in fields[4:8])
        except ValueError:
            result.drop(f"{name}:{number}", "box corners are not numbers: dropped")
            continue
        boxes.append(Box(x1, y1, x2, y2, fields[0]))
    return tuple(boxes)


def write(dataset: Dataset, out: Path) -> None:
    """``out/<split>/image_2/`` and ``out/<split>/label_2/``; crowd boxes become DontCare."""
    if dataset.has_class_labels:
        raise DataError(out, "the KITTI format holds detection only")
    for name in dataset.classes:
        if " " in name or not name:
            raise DataError(out, f"class name {name!r} cannot be a KITTI type (no spaces)")
    stems = export_stems(dataset)
    for sample in dataset:
        stem = stems[sample.index]
        save_image(out / sample.split / "image_2" / f"{stem}.png", sample.image)
        lines = []
        for (x1, y1, x2, y2), label, crowd in zip(
            sample.boxes.tolist(), sample.box_labels.tolist(), sample.crowd.tolist(), strict=True
        ):
            kind = "DontCare" if crowd else dataset.classes[label]
            lines.append(
                f"{kind} 0.00 0 0.00 {x1:.4f} {y1:.4f} {x2:.4f} {y2:.4f} " + " ".join(["0.00"] * 7)
            )
        target = out / sample.split / "label_2" / f"{stem}.txt"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("".join(line + "\n" for line in lines))
    (out / "classes.txt").write_text("\n".join(dataset.classes) + "\n", encoding="utf-8")
    # datumaro's class list; without it each split's order is the order labels appear in.
    (out / "dataset_meta.json").write_text(json.dumps({"labels": dataset.classes}) + "\n")
