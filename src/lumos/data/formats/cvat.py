"""CVAT for images 1.1: an XML file of ``<annotations>`` at the top beside ``images/``.

As CVAT writes a task (``annotations.xml``) or a project (``<image subset="...">``) and as
datumaro's ``cvat`` writes it (one ``<split>.xml`` per split). ``<tag>`` elements label an
image; ``<box>`` elements are boxes; ``<polygon>`` and ``<mask>`` (CVAT's run-length code
inside its box) are mask regions, and boxes too on an image without ``<box>`` elements.
Points and polylines are left out (reported). Classes follow the labels of ``<meta>``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from xml.etree.ElementTree import Element, ParseError, SubElement, tostring

import numpy as np
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import parse

from lumos.data.formats.common import export_stems, resolve_inside, save_image, split_named
from lumos.data.records import Box, Scan, Shapes, SourceItem
from lumos.errors import DataError

if TYPE_CHECKING:
    from lumos.data.dataset import Dataset, Sample

NAME = "cvat"
TASK = "detection"
_LEFT_OUT = ("points", "polyline", "skeleton", "cuboid", "ellipse")


def _parse(path: Path) -> Element:
    try:
        return parse(path).getroot()
    except ParseError as e:
        raise DataError(path, f"malformed XML: {e}") from None
    except DefusedXmlException as e:
        raise DataError(path, f"refused XML: {e}") from None
    except OSError as e:
        raise DataError(path, f"cannot read: {e.strerror or e}") from None


def _documents(source: Path) -> list[tuple[Path, Element | DataError]]:
    """The XML files at the top of ``source`` with their ``<annotations>`` root, or the
    reason one cannot be read; files with another root are not CVAT's."""
    found: list[tuple[Path, Element | DataError]] = []
    for path in sorted(source.glob("*.xml")) if source.is_dir() else []:
        try:
            root = _parse(path)
        except DataError as e:
            found.append((path, e))
            continue
        if root.tag == "annotations":
            found.append((path, root))
    return found


def sniff(source: Path) -> bool:
    return any(isinstance(root, Element) for _, root in _documents(source))


def scan(source: Path) -> Scan:
    documents = _documents(source)
    if not any(isinstance(root, Element) for _, root in documents):
        if documents:
            raise documents[0][1]  # type: ignore[misc]
        raise DataError(source, "no XML file with an <annotations> root: not a CVAT export")
    result = Scan(task="detection", items=[], root=source)
    classes: list[str] = []
    kinds: set[str] = set()
    for document, root in documents:
        if isinstance(root, DataError):
            result.skip(document.name, root.reason)
            continue
        names = (n.text.strip() for n in root.findall("meta//labels/label/name") if n.text)
        classes += [n for n in names if n not in classes]
        for image in root.iter("image"):
            name = image.get("name") or ""
            try:
                item = _item(source, image, split_named(document.stem), result, kinds)
            except DataError as e:
                result.skip(e.path or name, e.reason)
                continue
            result.items.append(item)
    result.classes = classes or None
    if kinds <= {"tag"}:
        result.task = "classification"
    elif "box" not in kinds:
        result.task = "segmentation"
    return result


def _item(
    source: Path, image: Element, default_split: str | None, result: Scan, kinds: set
) -> SourceItem:
    name = image.get("name") or ""
    subset = image.get("subset") or ""
    path = _image_path(source, name, subset)
    try:
        width, height = int(image.get("width") or ""), int(image.get("height") or "")
    except ValueError:
        raise DataError(name, "<image> has no numeric width and height") from None
    tags, boxes, regions = [], [], []
    for number, element in enumerate(image, 1):
        label = element.get("label") or ""
        if element.tag in _LEFT_OUT:
            result.drop(
                name,
                f"{element.tag} {number} left out: lumos reads tags, boxes, polygons and masks",
            )
            continue
        try:
            if element.tag == "tag":
                tags.append(label)
            elif element.tag == "box":
                corners = (float(element.get(k) or "") for k in ("xtl", "ytl", "xbr", "ybr"))
                boxes.append(Box(*corners, label))
            elif element.tag in ("polygon", "mask"):
                regions.append((label, _region(element, width, height)))
            else:
                continue
        except ValueError as e:
            result.drop(name, f"{element.tag} {number} is malformed ({e}): dropped")
            continue
        kinds.add(element.tag)
    if not boxes:
        boxes = [Box(*_bounds(region, width, height), label) for label, region in regions]
    mask = Shapes(height, width, tuple(regions)) if regions else None
    split = split_named(subset) or default_split
    return SourceItem(
        name, path=path, labels=tuple(tags), boxes=tuple(boxes), mask=mask, split=split
    )


def _image_path(source: Path, name: str, subset: str) -> Path:
    for folder in (source / "images", source / "images" / subset, source):
        path = resolve_inside(source, folder.relative_to(source) / name)
        if path.is_file():
            return path
    raise DataError(name, "image file not found under images/")


def _region(element: Element, width: int, height: int) -> list | dict:
    """A COCO segmentation: a polygon's points, or a mask's run-length code as COCO RLE."""
    from pycocotools import mask as coco_mask

    if element.tag == "polygon":
        points = [
            float(v) for pair in (element.get("points") or "").split(";") for v in pair.split(",")
        ]
        if len(points) < 6:
            raise ValueError("fewer than 3 points")
        return [points]
    counts = [int(v) for v in (element.get("rle") or "").split(",")]
    left, top, box_width, box_height = (
        int(float(element.get(k) or "")) for k in ("left", "top", "width", "height")
    )
    if (
        sum(counts) != box_width * box_height
        or left < 0
        or top < 0
        or left + box_width > width
        or top + box_height > height
    ):
        raise ValueError("run lengths do not fill the mask's box inside the image")
    values = np.repeat(np.arange(len(counts)) % 2, counts).astype(np.uint8)
    full = np.zeros((height, width), dtype=np.uint8)
    full[top : top + box_height, left : left + box_width] = values.reshape(box_height, box_width)
    rle = coco_mask.encode(np.asfortranarray(full))
    return {"size": rle["size"], "counts": rle["counts"].decode()}


def _bounds(region: list | dict, width: int, height: int) -> tuple[float, float, float, float]:
    from pycocotools import mask as coco_mask

    if isinstance(region, list):
        xs, ys = region[0][0::2], region[0][1::2]
        return min(xs), min(ys), max(xs), max(ys)
    x, y, w, h = coco_mask.toBbox(dict(region, counts=region["counts"].encode())).tolist()
    return x, y, x + w, y + h


def write(dataset: Dataset, out: Path) -> None:
    """``annotations.xml`` as CVAT writes a project (each image's split in ``subset``) and
    ``images/<name>.png``: tags for classes, boxes, one mask per class region."""
    root = Element("annotations")
    SubElement(root, "version").text = "1.1"
    project = SubElement(SubElement(root, "meta"), "project")
    SubElement(project, "name").text = dataset.name
    labels = SubElement(project, "labels")
    for name in dataset.classes:
        label = SubElement(labels, "label")
        SubElement(label, "name").text = name
        SubElement(label, "type").text = "any"
        SubElement(label, "attributes")
    subsets = SubElement(project, "subsets")
    stems = export_stems(dataset)
    splits: set[str] = set()
    for image_id, sample in enumerate(dataset):
        file_name = f"{stems[sample.index]}.png"
        save_image(out / "images" / file_name, sample.image)
        splits.add(sample.split)
        _image(root, image_id, file_name, sample, dataset.classes)
    for split in sorted(splits):
        SubElement(subsets, "subset").text = split
    (out / "annotations.xml").write_bytes(
        b'<?xml version="1.0" encoding="utf-8"?>\n' + tostring(root)
    )


def _image(
    root: Element, image_id: int, file_name: str, sample: Sample, classes: list[str]
) -> None:
    height, width = sample.image.shape[:2]
    numbers = {"id": image_id, "width": width, "height": height}
    image = SubElement(
        root,
        "image",
        name=file_name,
        subset=sample.split,
        **{k: str(v) for k, v in numbers.items()},
    )
    labels = sample.label if isinstance(sample.label, list) else [sample.label]
    for label in labels if sample.label != -1 else []:
        SubElement(image, "tag", label=classes[label], source="manual")
    for (x1, y1, x2, y2), label in zip(
        sample.boxes.tolist(), sample.box_labels.tolist(), strict=True
    ):
        corners = {"xtl": x1, "ytl": y1, "xbr": x2, "ybr": y2}
        SubElement(image, "box", label=classes[label], source="manual", occluded="0", z_order="0",
                   **{k: f"{v:.2f}" for k, v in corners.items()})  # fmt: skip
    for value in np.unique(sample.mask) if sample.mask is not None else []:
        if 0 < value <= len(classes):
            _mask(image, sample.mask == value, classes[int(value) - 1])


def _mask(image: Element, region: np.ndarray, label: str) -> None:
    """CVAT's mask: run lengths, background first, of the region's box read row by row."""
    ys, xs = np.nonzero(region)
    top, left, bottom, right = ys.min(), xs.min(), ys.max() + 1, xs.max() + 1
    flat = region[top:bottom, left:right].ravel()
    changes = np.flatnonzero(np.diff(flat.astype(np.int8))) + 1
    edges = np.concatenate([[0], changes, [flat.size]])
    counts = np.diff(edges).tolist()
    if flat[0]:
        counts = [0, *counts]
    box = {"left": left, "top": top, "width": right - left, "height": bottom - top}
    attributes = {k: str(int(v)) for k, v in box.items()}
    SubElement(image, "mask", label=label, source="manual", occluded="0", z_order="0",
               rle=", ".join(map(str, counts)), **attributes)  # fmt: skip
