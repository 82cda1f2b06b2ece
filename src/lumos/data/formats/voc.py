"""Pascal VOC: ``Annotations/*.xml``, ``JPEGImages/``, ``ImageSets/{Main,Segmentation}/
<split>.txt`` and ``SegmentationClass/*.png`` masks.

By default VOC corners are 1-based inclusive pixels (the devkit's convention, as Detectron2
reads them), stored as 0-based edges (x1 = xmin - 1, x2 = xmax); ``corners="edges"`` reads
and writes the numbers as edges unchanged (datumaro, CVAT). ``difficult`` objects become
crowd boxes, which evaluation ignores. Classes follow ``classes.txt`` or ``labelmap.txt``
(datumaro's and CVAT's ``name:r,g,b:parts:actions`` lines) if given, else the 20 standard
VOC classes when there are masks, else the names found. Masks are palette or grayscale PNGs
of class values, or RGB PNGs in the label map's colours (VOC's colour map where it gives
none). An image listed in ``ImageSets`` (any list: ``<split>.txt`` or datumaro's
``default.txt``) without an annotation file is an image without objects; one neither
listed nor annotated is reported, not imported.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from xml.etree.ElementTree import Element, ParseError, SubElement, tostring

import numpy as np
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import parse
from PIL import Image

from lumos.choices import VocCorners
from lumos.data.formats.common import (
    export_stems,
    find_image,
    read_class_list,
    resolve_inside,
    save_image,
    split_named,
)
from lumos.data.images import is_image_name
from lumos.data.palette import colour_table, voc_colour, voc_palette
from lumos.data.records import Box, ColourMask, Scan, SourceItem
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


READS_CORNERS = True  # scan() and write() take ``corners``


def sniff(source: Path) -> bool:
    return (source / "Annotations").is_dir() or (source / "SegmentationClass").is_dir()


def _listed(source: Path, kind: str) -> dict[str, str | None]:
    """{image stem: its split, or None} from the lists in ``ImageSets/<kind>/``.

    ``<split>.txt`` gives its images that split; any other list of one name a line (datumaro's
    ``default.txt``) gives images without one (the import splits them). Two-column lists
    (VOC's per-class ``<class>_<split>.txt``) name the images of ``<split>.txt`` again."""
    found: dict[str, str | None] = {}
    for list_file in sorted((source / "ImageSets" / kind).glob("*.txt")):
        split = split_named(list_file.stem)
        rows = [line.split() for line in list_file.read_text(encoding="utf-8").splitlines()]
        rows = [row for row in rows if row]
        if split is None and any(len(row) != 1 for row in rows):
            continue
        for row in rows:
            if split is not None or row[0] not in found:
                found[row[0]] = split
    return found


def scan(source: Path, corners: VocCorners = "pixels") -> Scan:
    """Read a VOC folder; ``corners`` says whether bndbox numbers are VOC's 1-based pixels
    (the devkit, Detectron2) or 0-based edges (datumaro, CVAT)."""
    if not sniff(source):
        raise DataError(source, "no Annotations/ or SegmentationClass/ folder: not a VOC dataset")
    masks_dir = source / "SegmentationClass"
    result = Scan(task="detection", items=[], root=source)
    label_map = _label_map(source)
    result.classes = read_class_list(source / "classes.txt") or (
        [name for name, _ in label_map] if label_map else None
    )
    if result.classes is None and masks_dir.is_dir():
        result.classes = list(VOC_CLASSES)
    colours = colour_table(_mask_colours(label_map, len(result.classes or ())))
    stems = sorted({p.stem for p in (source / "Annotations").glob("*.xml")})
    if stems:
        splits = _listed(source, "Main") or _listed(source, "Segmentation")
        stems = sorted({*stems, *splits})  # listed without annotations: no objects
        _report_unlisted(source / "JPEGImages", set(stems), result)
    else:
        splits = _listed(source, "Segmentation") or _listed(source, "Main")
        stems = sorted({*(p.stem for p in masks_dir.glob("*.png")), *splits})
        result.task = "segmentation"
    for stem in stems:
        try:
            item = _item(source, stem, corners)
        except DataError as e:
            result.skip(e.path or stem, e.reason)
            continue
        mask = masks_dir / f"{stem}.png"
        item.mask = ColourMask(mask, colours) if mask.is_file() else None
        item.split = splits.get(stem)
        result.items.append(item)
    return result


def _report_unlisted(images: Path, stems: set[str], result: Scan) -> None:
    """An image with neither annotations nor a line in ``ImageSets`` is named, not imported:
    nothing says whether it holds no objects or lost its labels."""
    for image in sorted(images.glob("*")) if images.is_dir() else []:
        if is_image_name(image) and image.stem not in stems:
            result.skip(image, "no annotation file and not listed in ImageSets")


def _item(source: Path, stem: str, corners: VocCorners) -> SourceItem:
    xml_path = source / "Annotations" / f"{stem}.xml"
    file_name, boxes = _read_xml(xml_path, corners) if xml_path.is_file() else (None, ())
    image = resolve_inside(source / "JPEGImages", file_name) if file_name else None
    if image is None or not image.is_file():
        image = find_image(source / "JPEGImages", stem)
    if image is None:
        raise DataError(f"JPEGImages/{file_name or stem}", "image file not found")
    return SourceItem(f"JPEGImages/{image.name}", path=image, boxes=boxes)


LabelMap = list[tuple[str, tuple[int, int, int] | None]]


def _label_map(source: Path) -> LabelMap | None:
    """The classes of a ``labelmap.txt`` (``name:r,g,b:parts:actions`` a line) with their
    mask colours where given, in order, the background left out; None without one."""
    path = source / "labelmap.txt"
    if not path.is_file():
        return None
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(path, f"cannot read the label map: {e}") from None
    entries: LabelMap = []
    for line in lines:
        if not line.strip() or line.startswith("#"):
            continue
        name, _, rest = line.partition(":")
        entries.append((name.strip(), _colour(rest.partition(":")[0], path)))
    entries = [(n, c) for n, c in entries if n and n.lower().strip("_") != "background"]
    return entries or None


def _colour(text: str, path: Path) -> tuple[int, int, int] | None:
    if not text.strip():
        return None
    try:
        r, g, b = (int(v) for v in text.split(","))
    except ValueError:
        raise DataError(path, f"colour {text!r} is not r,g,b") from None
    return r, g, b


def _mask_colours(label_map: LabelMap | None, num_classes: int) -> list[tuple[int, int, int]]:
    """The colour of each mask value: the label map's where given, else VOC's palette."""
    given = [colour for _, colour in label_map or ()]
    colours = [voc_colour(0)]
    for value in range(1, num_classes + 1):
        colour = given[value - 1] if value <= len(given) else None
        colours.append(colour or voc_colour(value))
    return colours


def _read_xml(path: Path, corners: VocCorners) -> tuple[str | None, tuple[Box, ...]]:
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
            numbers = [
                float(obj.findtext(f"bndbox/{k}") or "") for k in ("xmin", "ymin", "xmax", "ymax")
            ]
        except ValueError:
            raise DataError(
                f"Annotations/{path.name}", f"object {number} has no numeric bndbox"
            ) from None
        if not name:
            raise DataError(f"Annotations/{path.name}", f"object {number} has no name")
        difficult = (obj.findtext("difficult") or "0").strip() == "1"
        x1, y1, x2, y2 = numbers
        if corners == "pixels":
            x1, y1 = x1 - 1, y1 - 1
        boxes.append(Box(x1, y1, x2, y2, name, difficult))
    return root.findtext("filename"), tuple(boxes)


def write(dataset: Dataset, out: Path, corners: VocCorners = "pixels") -> None:
    """VOC layout with PNG images, ``labelmap.txt`` (and ``classes.txt``), the split lists
    in ``ImageSets/Main`` (and ``ImageSets/Segmentation`` with masks), masks as palette
    PNGs in ``SegmentationClass/``; ``corners`` as for :func:`scan`."""
    if dataset.has_class_labels:
        raise DataError(out, "the VOC format holds detection and segmentation only")
    splits: dict[str, list[str]] = {}
    stems = export_stems(dataset)
    with_masks = False
    (out / "Annotations").mkdir(parents=True, exist_ok=True)
    for sample in dataset:
        stem = stems[sample.index]
        save_image(out / "JPEGImages" / f"{stem}.png", sample.image)
        splits.setdefault(sample.split, []).append(stem)
        if sample.mask is not None:
            with_masks = True
            _save_palette_mask(out / "SegmentationClass" / f"{stem}.png", sample.mask)
        (out / "Annotations" / f"{stem}.xml").write_bytes(
            tostring(_xml(sample, stem, dataset.classes, corners))
        )
    for kind in ("Main", "Segmentation") if with_masks else ("Main",):
        (out / "ImageSets" / kind).mkdir(parents=True, exist_ok=True)
        for split, names in splits.items():
            (out / "ImageSets" / kind / f"{split}.txt").write_text("\n".join(names) + "\n")
    (out / "classes.txt").write_text("\n".join(dataset.classes) + "\n", encoding="utf-8")
    lines = ["# label:color_rgb:parts:actions", "background:0,0,0::"] + [
        f"{name}:{','.join(map(str, voc_colour(value)))}::"
        for value, name in enumerate(dataset.classes, 1)
    ]
    (out / "labelmap.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _save_palette_mask(path: Path, mask: np.ndarray) -> None:
    path.parent.mkdir(exist_ok=True)
    image = Image.fromarray(mask, mode="P")
    image.putpalette(voc_palette().tobytes())
    image.save(path)


def _xml(sample: Sample, stem: str, classes: list[str], corners: VocCorners) -> Element:
    root = Element("annotation")
    SubElement(root, "filename").text = f"{stem}.png"
    size = SubElement(root, "size")
    height, width, depth = sample.image.shape
    for key, value in (("width", width), ("height", height), ("depth", depth)):
        SubElement(size, key).text = str(value)
    shift = np.array([1, 1, 0, 0]) if corners == "pixels" else np.zeros(4)
    for box, label, crowd in zip(sample.boxes, sample.box_labels, sample.crowd, strict=True):
        obj = SubElement(root, "object")
        SubElement(obj, "name").text = classes[int(label)]
        SubElement(obj, "difficult").text = "1" if crowd else "0"
        bndbox = SubElement(obj, "bndbox")
        numbers = np.asarray(box, dtype=np.float64) + shift
        for key, value in zip(("xmin", "ymin", "xmax", "ymax"), numbers, strict=True):
            SubElement(bndbox, key).text = f"{value:.4f}"
    return root
