"""Pascal VOC: ``Annotations/*.xml``, ``JPEGImages/``, ``ImageSets/Main/<split>.txt`` and
``SegmentationClass/*.png`` class-index masks.

VOC corners are 1-based inclusive pixels; they are stored as 0-based edges (x1 = xmin - 1,
x2 = xmax). ``difficult`` objects become crowd boxes, which evaluation ignores. Classes
follow ``classes.txt`` or ``labelmap.txt`` (datumaro's and CVAT's ``name:r,g,b:parts:actions``
lines) if given, else the 20 standard VOC classes when there are masks (their values index
that list), else the names found. An image listed in ``ImageSets/Main`` without an
annotation file is an image without objects.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from xml.etree.ElementTree import Element, ParseError, SubElement, tostring

import numpy as np
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import parse
from PIL import Image

from lumos.data.formats.common import (
    find_image,
    read_class_list,
    record_name,
    resolve_inside,
    save_image,
    split_named,
)
from lumos.data.records import CLASSIFICATION, Box, Scan, SourceItem
from lumos.errors import DataError

if TYPE_CHECKING:
    from lumos.data.dataset import Dataset, Sample

NAME = "voc"
TASK = "detection"
VOC_CLASSES = (
    "aeroplane",
    "bicycle",
    "bird",
    "boat",
    "bottle",
    "bus",
    "car",
    "cat",
    "chair",
    "cow",
    "diningtable",
    "dog",
    "horse",
    "motorbike",
    "person",
    "pottedplant",
    "sheep",
    "sofa",
    "train",
    "tvmonitor",
)


def detect(source: Path) -> bool:
    return (source / "Annotations").is_dir() or (source / "SegmentationClass").is_dir()


def _splits(source: Path) -> dict[str, str]:
    found = {}
    for list_file in sorted((source / "ImageSets" / "Main").glob("*.txt")):
        split = split_named(list_file.stem)
        if split:
            for line in list_file.read_text(encoding="utf-8").split():
                found[line] = split
    return found


def scan(source: Path) -> Scan:
    if not detect(source):
        raise DataError(source, "no Annotations/ or SegmentationClass/ folder: not a VOC dataset")
    masks_dir = source / "SegmentationClass"
    result = Scan(task="detection", items=[], root=source)
    result.classes = read_class_list(source / "classes.txt") or _label_map(source)
    if result.classes is None and masks_dir.is_dir():
        result.classes = list(VOC_CLASSES)
    splits = _splits(source)
    stems = sorted({p.stem for p in (source / "Annotations").glob("*.xml")})
    if not stems:
        stems = sorted(p.stem for p in masks_dir.glob("*.png"))
        result.task = "segmentation"
    else:
        stems = sorted({*stems, *splits})  # listed without annotations: no objects
    for stem in stems:
        xml_path = source / "Annotations" / f"{stem}.xml"
        try:
            file_name, boxes = _read_xml(xml_path) if xml_path.is_file() else (None, ())
            image = resolve_inside(source / "JPEGImages", file_name) if file_name else None
            if image is None or not image.is_file():
                image = find_image(source / "JPEGImages", stem)
            if image is None:
                raise DataError(f"JPEGImages/{file_name or stem}", "image file not found")
        except DataError as e:
            result.skip(e.path or stem, e.reason)
            continue
        mask = masks_dir / f"{stem}.png"
        result.items.append(
            SourceItem(
                f"JPEGImages/{image.name}",
                path=image,
                boxes=boxes,
                mask=mask if mask.is_file() else None,
                split=splits.get(stem),
            )
        )
    return result


def _label_map(source: Path) -> list[str] | None:
    """The class names of a ``labelmap.txt`` (``name:colour:parts:actions`` a line), in
    order, the background left out; None without one."""
    path = source / "labelmap.txt"
    if not path.is_file():
        return None
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(path, f"cannot read the label map: {e}") from None
    names = [
        line.split(":")[0].strip() for line in lines if line.strip() and not line.startswith("#")
    ]
    return [n for n in names if n and n.lower().strip("_") != "background"] or None


def _read_xml(path: Path) -> tuple[str | None, tuple[Box, ...]]:
    try:
        root = parse(path).getroot()
    except ParseError as e:
        raise DataError(f"Annotations/{path.name}", f"malformed XML: {e}") from None
    except DefusedXmlException as e:
        raise DataError(f"Annotations/{path.name}", f"refused XML: {e}") from None
    boxes = []
    for number, obj in enumerate(root.iter("object"), 1):
        name = (obj.findtext("name") or "").strip()
        try:
            corners = [
                float(obj.findtext(f"bndbox/{k}") or "") for k in ("xmin", "ymin", "xmax", "ymax")
            ]
        except ValueError:
            raise DataError(
                f"Annotations/{path.name}", f"object {number} has no numeric bndbox"
            ) from None
        if not name:
            raise DataError(f"Annotations/{path.name}", f"object {number} has no name")
        difficult = (obj.findtext("difficult") or "0").strip() == "1"
        boxes.append(Box(corners[0] - 1, corners[1] - 1, corners[2], corners[3], name, difficult))
    return root.findtext("filename"), tuple(boxes)


def write(dataset: Dataset, out: Path) -> None:
    """VOC layout with PNG images; masks in ``SegmentationClass/``, classes in ``classes.txt``."""
    if dataset.task == CLASSIFICATION:
        raise DataError(out, "the VOC format holds detection and segmentation only")
    splits: dict[str, list[str]] = {}
    (out / "Annotations").mkdir(parents=True, exist_ok=True)
    for sample in dataset:
        stem = record_name(sample.index)
        save_image(out / "JPEGImages" / f"{stem}.png", sample.image)
        splits.setdefault(sample.split, []).append(stem)
        if sample.mask is not None:
            (out / "SegmentationClass").mkdir(exist_ok=True)
            Image.fromarray(sample.mask).save(out / "SegmentationClass" / f"{stem}.png")
        (out / "Annotations" / f"{stem}.xml").write_bytes(
            tostring(_xml(sample, stem, dataset.classes))
        )
    (out / "ImageSets" / "Main").mkdir(parents=True, exist_ok=True)
    for split, stems in splits.items():
        (out / "ImageSets" / "Main" / f"{split}.txt").write_text("\n".join(stems) + "\n")
    (out / "classes.txt").write_text("\n".join(dataset.classes) + "\n", encoding="utf-8")


def _xml(sample: Sample, stem: str, classes: list[str]) -> Element:
    root = Element("annotation")
    SubElement(root, "filename").text = f"{stem}.png"
    size = SubElement(root, "size")
    height, width, depth = sample.image.shape
    for key, value in (("width", width), ("height", height), ("depth", depth)):
        SubElement(size, key).text = str(value)
    for box, label, crowd in zip(sample.boxes, sample.box_labels, sample.crowd, strict=True):
        obj = SubElement(root, "object")
        SubElement(obj, "name").text = classes[int(label)]
        SubElement(obj, "difficult").text = "1" if crowd else "0"
        bndbox = SubElement(obj, "bndbox")
        corners = np.asarray(box, dtype=np.float64) + np.array([1, 1, 0, 0])
        for key, value in zip(("xmin", "ymin", "xmax", "ymax"), corners, strict=True):
            SubElement(bndbox, key).text = f"{value:.4f}"
    return root
