"""LabelMe XML, the original MIT LabelMe format (as datumaro's ``label_me`` writes it):
``Annotations/[<folder>/]<image>.xml`` beside ``Images/[<folder>/]<image>``.

Each ``<object>`` has a ``<name>`` and a ``<polygon>`` of ``<pt><x/><y/></pt>`` points; a
``bounding_box`` becomes a box, any other polygon a box (its bounds) and a mask region.
Deleted objects are left out. A folder named after a split gives the split. Classes follow
``classes.txt`` if present.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from xml.etree.ElementTree import Element, ParseError, SubElement, tostring

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import parse

from lumos.data.formats.common import (
    export_stems,
    read_class_list,
    relative_name,
    resolve_inside,
    save_image,
    split_named,
)
from lumos.data.records import Box, Scan, Shapes, SourceItem
from lumos.errors import DataError

if TYPE_CHECKING:
    from lumos.data.dataset import Dataset, Sample

NAME = "labelme-xml"
TASK = "detection"


def _documents(source: Path) -> list[Path]:
    return sorted((source / "Annotations").rglob("*.xml")) if source.is_dir() else []


def sniff(source: Path) -> bool:
    """An ``Annotations/`` folder whose XML has LabelMe's ``imagesize`` (VOC's has ``size``)."""
    for path in _documents(source)[:3]:
        try:
            root = parse(path).getroot()
        except (ParseError, DefusedXmlException, OSError):
            continue
        return root.find("imagesize") is not None or root.find("object/polygon") is not None
    return False


def scan(source: Path) -> Scan:
    documents = _documents(source)
    if not documents:
        raise DataError(source, "no Annotations/*.xml: not a LabelMe XML dataset")
    result = Scan(
        task="detection", items=[], root=source, classes=read_class_list(source / "classes.txt")
    )
    for path in documents:
        name = relative_name(path, source)
        try:
            item = _read(path, source, name, result)
        except DataError as e:
            result.skip(e.path or name, e.reason)
            continue
        result.items.append(item)
    return result


def _read(path: Path, source: Path, name: str, result: Scan) -> SourceItem:
    try:
        root = parse(path).getroot()
    except ParseError as e:
        raise DataError(name, f"malformed XML: {e}") from None
    except DefusedXmlException as e:
        raise DataError(name, f"refused XML: {e}") from None
    folder = path.parent.relative_to(source / "Annotations")
    file_name = (root.findtext("filename") or f"{path.stem}.jpg").strip()
    image = resolve_inside(source / "Images", folder / file_name)
    if not image.is_file():
        raise DataError(name, f"image Images/{folder / file_name} not found")
    boxes, polygons = [], []
    for number, obj in enumerate(root.iter("object"), 1):
        if (obj.findtext("deleted") or "0").strip() == "1":
            continue
        points = _points(obj)
        label = (obj.findtext("name") or "").strip()
        if not label or len(points) < 3:
            result.drop(name, f"object {number} has no name or fewer than 3 points: dropped")
            continue
        xs, ys = [x for x, _ in points], [y for _, y in points]
        boxes.append(Box(min(xs), min(ys), max(xs), max(ys), label))
        if (obj.findtext("type") or "").strip() != "bounding_box":
            polygons.append((label, [[c for point in points for c in point]]))
    mask = _shapes(root, polygons, name, result) if polygons else None
    split = split_named(folder.parts[0]) if folder.parts else None
    return SourceItem(name, path=image, boxes=tuple(boxes), mask=mask, split=split)


def _points(obj: Element) -> list[tuple[float, float]]:
    points = []
    for point in obj.iterfind("polygon/pt"):
        try:
            points.append((float(point.findtext("x") or ""), float(point.findtext("y") or "")))
        except ValueError:
            return []
    return points


def _shapes(root: Element, polygons: list, name: str, result: Scan) -> Shapes | None:
    try:
        height = int(root.findtext("imagesize/nrows") or "")
        width = int(root.findtext("imagesize/ncols") or "")
    except ValueError:
        result.drop(name, "no imagesize: polygons kept as boxes only")
        return None
    return Shapes(height, width, tuple(polygons))


def write(dataset: Dataset, out: Path) -> None:
    """``Images/<split>/<record>.png`` and ``Annotations/<split>/<record>.xml``, each box a
    ``bounding_box`` polygon; classes in ``classes.txt``."""
    if dataset.has_class_labels:
        raise DataError(out, "the LabelMe format holds detection only")
    stems = export_stems(dataset)
    for sample in dataset:
        stem = stems[sample.index]
        save_image(out / "Images" / sample.split / f"{stem}.png", sample.image)
        document = out / "Annotations" / sample.split / f"{stem}.xml"
        document.parent.mkdir(parents=True, exist_ok=True)
        document.write_bytes(tostring(_xml(sample, f"{stem}.png", dataset.classes)))
    (out / "classes.txt").write_text("\n".join(dataset.classes) + "\n", encoding="utf-8")


def _xml(sample: Sample, file_name: str, classes: list[str]) -> Element:
    root = Element("annotation")
    SubElement(root, "filename").text = file_name
    SubElement(root, "folder").text = sample.split
    size = SubElement(root, "imagesize")
    SubElement(size, "nrows").text = str(sample.image.shape[0])
    SubElement(size, "ncols").text = str(sample.image.shape[1])
    for number, (box, label) in enumerate(zip(sample.boxes, sample.box_labels, strict=True)):
        obj = SubElement(root, "object")
        SubElement(obj, "name").text = classes[int(label)]
        SubElement(obj, "deleted").text = "0"
        SubElement(obj, "id").text = str(number)
        SubElement(obj, "type").text = "bounding_box"
        polygon = SubElement(obj, "polygon")
        x1, y1, x2, y2 = (float(v) for v in box)
        for x, y in ((x1, y1), (x2, y1), (x2, y2), (x1, y2)):
            point = SubElement(polygon, "pt")
            SubElement(point, "x").text = f"{x:.2f}"
            SubElement(point, "y").text = f"{y:.2f}"
    return root
