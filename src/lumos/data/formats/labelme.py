"""LabelMe JSON: one ``.json`` per image with ``imagePath`` and ``shapes``.

Rectangles become boxes; polygons become a box (their bounds) and a mask region. Other
shape types (points, lines, circles) are reported and left out. Sub-folders named after
splits give the split. Classes follow ``classes.txt`` if present.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from lumos.data.formats.common import (
    export_stems,
    read_class_list,
    relative_name,
    resolve_inside,
    save_image,
    split_folders,
    walk_files,
)
from lumos.data.records import Box, Scan, Shapes, SourceItem
from lumos.errors import DataError
from lumos.fileio import load_json

if TYPE_CHECKING:
    from lumos.data.dataset import Dataset

NAME = "labelme"
TASK = "detection"


def sniff(source: Path) -> bool:
    if not source.is_dir():
        return False
    for path in sorted(source.rglob("*.json"))[:3]:
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, OSError):
            continue
        if isinstance(document, dict) and "shapes" in document and "imagePath" in document:
            return True
    return False


def scan(source: Path) -> Scan:
    if not source.is_dir():
        raise DataError(source, "not a folder of LabelMe .json files")
    result = Scan(
        task="detection", items=[], root=source, classes=read_class_list(source / "classes.txt")
    )
    roots = split_folders(source) or {None: source}
    for split, root in roots.items():
        for path in walk_files(root, result):
            if path.suffix.lower() == ".json":
                item = _read(path, relative_name(path, source), split, result)
                if item is not None:
                    result.items.append(item)
    if not result.items and not result.problems:
        raise DataError(source, "no LabelMe .json files found")
    return result


def _read(path: Path, name: str, split: str | None, result: Scan) -> SourceItem | None:
    try:
        document = load_json(path)
        if not isinstance(document, dict) or not isinstance(document.get("shapes"), list):
            raise DataError(name, "not a LabelMe file: no 'shapes' list")
        image = resolve_inside(path.parent, str(document.get("imagePath") or ""))
        if not image.is_file():
            raise DataError(name, f"image file {document.get('imagePath')!r} not found")
    except DataError as e:
        result.skip(name, e.reason)
        return None
    boxes, polygons = [], []
    for number, shape in enumerate(document["shapes"], 1):
        try:
            label = str(shape["label"])
            points = [(float(x), float(y)) for x, y in shape["points"]]
        except (KeyError, TypeError, ValueError):
            result.drop(name, f"shape {number} is malformed: dropped")
            continue
        kind = shape.get("shape_type") or "polygon"
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        if kind == "rectangle" and len(points) == 2:
            boxes.append(Box(min(xs), min(ys), max(xs), max(ys), label))
        elif kind == "polygon" and len(points) >= 3:
            boxes.append(Box(min(xs), min(ys), max(xs), max(ys), label))
            polygons.append((label, [[c for point in points for c in point]]))
        else:
            result.drop(name, f"shape {number} ({kind}) is not a rectangle or polygon: dropped")
    mask = None
    if polygons:
        try:
            mask = Shapes(
                int(document["imageHeight"]), int(document["imageWidth"]), tuple(polygons)
            )
        except (KeyError, TypeError, ValueError):
            result.drop(name, "no imageHeight/imageWidth: polygons kept as boxes only")
    return SourceItem(name, path=image, boxes=tuple(boxes), mask=mask, split=split)


def write(dataset: Dataset, out: Path) -> None:
    """``out/<split>/<record>.png`` with a LabelMe ``.json`` of rectangles beside each."""
    if dataset.has_class_labels:
        raise DataError(out, "the LabelMe format holds detection only")
    stems = export_stems(dataset)
    for sample in dataset:
        stem = stems[sample.index]
        save_image(out / sample.split / f"{stem}.png", sample.image)
        shapes = [
            {
                "label": dataset.classes[label],
                "points": [[x1, y1], [x2, y2]],
                "shape_type": "rectangle",
                "flags": {},
            }
            for (x1, y1, x2, y2), label in zip(
                sample.boxes.tolist(), sample.box_labels.tolist(), strict=True
            )
        ]
        height, width = sample.image.shape[:2]
        document = {
            "version": "5.0.0",
            "flags": {},
            "shapes": shapes,
            "imagePath": f"{stem}.png",
            "imageData": None,
            "imageHeight": height,
            "imageWidth": width,
        }
        (out / sample.split / f"{stem}.json").write_text(json.dumps(document, indent=1))
    (out / "classes.txt").write_text("\n".join(dataset.classes) + "\n", encoding="utf-8")
