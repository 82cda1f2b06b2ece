"""COCO JSON: boxes (``bbox``), crowd flags, and polygons or RLE (``segmentation``).

SOURCE is an annotation file, or a folder with ``annotations/*.json`` (one per split, named
like ``instances_train2017.json``). Images are looked for beside the file, in ``images/``,
``images/<subset>/`` (``instances_<subset>.json``: datumaro's ``default`` too),
``images/<split>/`` and ``<split>2017/`` of the dataset folder.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lumos.data.formats.common import export_stems, resolve_inside, save_image, split_in
from lumos.data.records import Box, Scan, Shapes, SourceItem
from lumos.errors import DataError
from lumos.fileio import load_json

if TYPE_CHECKING:
    from lumos.data.dataset import Dataset, Sample

NAME = "coco"
TASK = "detection"


def _annotation_files(source: Path) -> list[Path]:
    if source.is_file():
        return [source]
    folder = source / "annotations" if (source / "annotations").is_dir() else source
    return sorted(p for p in folder.glob("*.json") if not p.name.startswith("."))


def sniff(source: Path) -> bool:
    if source.is_file():
        return source.suffix.lower() == ".json"
    return (source / "annotations").is_dir() and bool(_annotation_files(source))


def scan(source: Path) -> Scan:
    files = _annotation_files(source)
    if not files:
        raise DataError(source, "no COCO annotation file (*.json) found")
    root = source.parent if source.is_file() else source
    if root.name == "annotations":
        root = root.parent
    result = Scan(task="detection", items=[], root=root)
    categories: dict[int, str] = {}
    for path in files:
        document = load_json(path)
        split = split_in(path.stem) if len(files) > 1 or source.is_dir() else None
        _read(document, path, root, split, categories, result)
    result.classes = [categories[k] for k in sorted(categories)]
    if any(item.mask is not None for item in result.items) and not any(
        i.boxes for i in result.items
    ):
        result.task = "segmentation"
    return result


def _read(
    document: Any,
    path: Path,
    root: Path,
    split: str | None,
    categories: dict[int, str],
    result: Scan,
) -> None:
    if not isinstance(document, dict) or not isinstance(document.get("images"), list):
        raise DataError(path, "not a COCO file: no 'images' list")
    for category in document.get("categories", []):
        try:
            categories[int(category["id"])] = str(category["name"])
        except (KeyError, TypeError, ValueError):
            raise DataError(path, f"malformed category {category!r}") from None
    annotations: dict[Any, list[dict]] = {}
    for annotation in document.get("annotations", []):
        if isinstance(annotation, dict):
            annotations.setdefault(annotation.get("image_id"), []).append(annotation)
    image_ids, folders = set(), _image_folders(path, split)
    for entry in document["images"]:
        if not isinstance(entry, dict) or "file_name" not in entry or "id" not in entry:
            result.skip(path.name, f"malformed image entry {str(entry)[:80]}")
            continue
        image_ids.add(entry["id"])
        item = _item(entry, annotations.get(entry["id"], []), root, folders, split, categories,
                     result)  # fmt: skip
        if item is not None:
            result.items.append(item)
    orphans = sum(len(v) for k, v in annotations.items() if k not in image_ids)
    if orphans:
        result.drop(path.name, f"{orphans} annotations refer to no image: dropped")


def _item(
    entry: dict,
    annotations: list[dict],
    root: Path,
    folders: list[str],
    split: str | None,
    categories: dict[int, str],
    result: Scan,
) -> SourceItem | None:
    name = str(entry["file_name"])
    try:
        image = _find(root, name, folders)
    except DataError as e:
        result.skip(name, e.reason)
        return None
    boxes, shapes = [], []
    for annotation in annotations:
        label = categories.get(annotation.get("category_id"))  # type: ignore[arg-type]
        if label is None:
            result.drop(
                name,
                f"annotation {annotation.get('id')}: "
                f"unknown category id {annotation.get('category_id')!r}",
            )
            continue
        crowd = bool(annotation.get("iscrowd", 0))
        bbox = annotation.get("bbox")
        if bbox is not None:
            try:
                x, y, w, h = (float(v) for v in bbox)
            except (TypeError, ValueError):
                result.drop(name, f"annotation {annotation.get('id')}: malformed bbox {bbox!r}")
            else:
                boxes.append(Box(x, y, x + w, y + h, label, crowd))
        segmentation = annotation.get("segmentation")
        if segmentation:
            shapes.append((label, segmentation))
    mask = None
    if shapes:
        try:
            mask = Shapes(int(entry["height"]), int(entry["width"]), tuple(shapes))
        except (KeyError, TypeError, ValueError):
            result.drop(name, "image entry has no width/height: segmentation dropped")
    return SourceItem(name, path=image, boxes=tuple(boxes), mask=mask, split=split)


def _image_folders(path: Path, split: str | None) -> list[str]:
    """Where the images of annotation file ``path`` may be, relative to the dataset folder."""
    folders = ["", "images"]
    _, _, subset = path.stem.partition("_")  # instances_<subset>
    if subset:
        folders.append(f"images/{subset}")
    if split:
        folders += [f"images/{split}", f"{split}2017", f"{split}2014", split]
    return folders


def _find(root: Path, name: str, folders: list[str]) -> Path:
    for folder in folders:
        path = resolve_inside(root, Path(folder) / name)
        if path.is_file():
            return path
    raise DataError(name, f"image file not found under {root}")


def write(dataset: Dataset, out: Path) -> None:
    """``out/annotations/instances_<split>.json`` and ``out/images/<split>/<record>.png``."""
    from pycocotools import mask as coco_mask

    if dataset.has_class_labels:
        raise DataError(out, "the COCO format holds detection and segmentation only")
    categories = [{"id": i + 1, "name": name} for i, name in enumerate(dataset.classes)]
    documents: dict[str, dict] = {}
    stems = export_stems(dataset)
    next_id = 1
    for image_id, sample in enumerate(dataset, 1):
        document = documents.setdefault(
            sample.split, {"images": [], "annotations": [], "categories": categories}
        )
        file_name = f"{stems[sample.index]}.png"
        save_image(out / "images" / sample.split / file_name, sample.image)
        height, width = sample.image.shape[:2]
        document["images"].append(
            {"id": image_id, "file_name": file_name, "width": width, "height": height}
        )
        for box, label, crowd, region in _regions(sample, len(dataset.classes)):
            x1, y1, x2, y2 = (float(v) for v in box)
            annotation = {
                "id": next_id,
                "image_id": image_id,
                "category_id": int(label) + 1,
                "bbox": [x1, y1, x2 - x1, y2 - y1],
                "area": (x2 - x1) * (y2 - y1),
                "iscrowd": int(crowd),
                "segmentation": [],  # present, as COCO readers expect, and empty for a box
            }
            if region is not None:
                rle = coco_mask.encode(np.asfortranarray(region.astype(np.uint8)))
                annotation["segmentation"] = {"size": rle["size"], "counts": rle["counts"].decode()}
                annotation["area"] = float(region.sum())
            document["annotations"].append(annotation)
            next_id += 1
    (out / "annotations").mkdir(parents=True, exist_ok=True)
    for split, document in documents.items():
        (out / "annotations" / f"instances_{split}.json").write_text(json.dumps(document))


def _regions(
    sample: Sample, num_classes: int
) -> Iterator[tuple[np.ndarray, int, bool, np.ndarray | None]]:
    """Each box with the pixels of its class inside it; or, without boxes, one per class."""
    if len(sample.boxes):
        for box, label, crowd in zip(sample.boxes, sample.box_labels, sample.crowd, strict=True):
            region = None
            if sample.mask is not None:
                x1, y1, x2, y2 = (
                    np.floor(box[:2]).astype(int).tolist() + np.ceil(box[2:]).astype(int).tolist()
                )
                region = np.zeros(sample.mask.shape, dtype=bool)
                region[y1:y2, x1:x2] = sample.mask[y1:y2, x1:x2] == label + 1
            yield box, label, crowd, region
    elif sample.mask is not None:
        for value in range(1, num_classes + 1):
            region = sample.mask == value
            if region.any():
                ys, xs = np.nonzero(region)
                yield (
                    np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]),
                    value - 1,
                    False,
                    region,
                )
