"""Label Studio tasks: a JSON list of ``{"data": {"image": ...}, "annotations": [...]}``.

Read as Label Studio exports a project ("JSON") and as its converter writes tasks to import
(``label-studio-converter import coco|yolo``). Each task's latest annotation that was not
cancelled is its labels: ``choices`` classes, ``rectanglelabels`` boxes, ``polygonlabels``
mask regions (and boxes on an image without rectangles), all in percent of the image.
Rotated rectangles, brush masks and other result types are reported and left out. Image
references (``/data/upload/<n>/<hash>-<name>``, ``/data/local-files/?d=<path>``, a path)
are looked up below the JSON's folder by path, then by file name; remote URLs are refused.
A task's ``data.split`` (written by lumos's export) gives its split.
"""

from __future__ import annotations

import json
import re
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlparse
from xml.sax.saxutils import quoteattr

from lumos.data.formats.common import (
    export_stems,
    relative_name,
    save_image,
    split_named,
    walk_files,
)
from lumos.data.images import is_image_name
from lumos.data.records import Box, Scan, Shapes, SourceItem
from lumos.errors import DataError
from lumos.fileio import load_json

if TYPE_CHECKING:
    from lumos.data.dataset import Dataset, Sample

NAME = "labelstudio"
TASK = "detection"
TASKS_FILE = "tasks.json"
CONFIG_FILE = "label_config.xml"
_UPLOAD_PREFIX = re.compile(r"^[0-9a-f]{8}-")
_KINDS = {"choices": "classes", "rectanglelabels": "box", "polygonlabels": "polygon"}


def _is_tasks(path: Path) -> bool:
    try:
        with path.open(encoding="utf-8") as f:
            head = f.read(4096).lstrip()
    except (OSError, UnicodeDecodeError):
        return False
    return head.startswith("[") and '"data"' in head


def _tasks_file(source: Path) -> Path | None:
    if source.is_file():
        return source if source.suffix.lower() == ".json" and _is_tasks(source) else None
    found = [p for p in sorted(source.glob("*.json")) if _is_tasks(p)] if source.is_dir() else []
    return found[0] if found else None


def sniff(source: Path) -> bool:
    return _tasks_file(source) is not None


def scan(source: Path) -> Scan:
    path = _tasks_file(source)
    if path is None:
        raise DataError(source, "no JSON list of Label Studio tasks found")
    tasks = load_json(path, "Label Studio")
    if not isinstance(tasks, list):
        raise DataError(path, "not a list of Label Studio tasks")
    root = path.parent
    result = Scan(task="detection", items=[], root=root)
    images = _images_by_name(root, result)
    kinds: set[str] = set()
    for number, task in enumerate(tasks, 1):
        where = f"{path.name}: task {task.get('id', number) if isinstance(task, dict) else number}"
        try:
            item = _item(task, root, images, where, result, kinds)
        except DataError as e:
            result.skip(e.path or where, e.reason)
            continue
        result.items.append(item)
    if kinds <= {"classes"}:
        result.task = "classification"
    elif "box" not in kinds:
        result.task = "segmentation"
    return result


def _images_by_name(root: Path, result: Scan) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in walk_files(root, result):
        if is_image_name(path):
            found.setdefault(path.name, path)
    return found


def _image(reference: Any, root: Path, images: dict[str, Path]) -> Path:
    if not isinstance(reference, str) or not reference:
        raise DataError(None, "no data.image")
    url = urlparse(reference)
    if url.scheme in ("http", "https", "s3", "gs", "azure-blob"):
        raise DataError(None, f"remote image {reference[:80]!r}: lumos does not download")
    relative = unquote(parse_qs(url.query).get("d", [url.path])[0]).lstrip("/")
    name = PurePosixPath(relative).name
    candidate = (root / relative).resolve()
    if candidate.is_relative_to(root.resolve()) and candidate.is_file():
        return candidate
    for key in (name, _UPLOAD_PREFIX.sub("", name)):
        if key in images:
            return images[key]
    raise DataError(None, f"image {name!r} not found below {root}")


def _item(
    task: Any, root: Path, images: dict[str, Path], where: str, result: Scan, kinds: set[str]
) -> SourceItem:
    if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
        raise DataError(where, "not a task: no 'data' object")
    try:
        path = _image(task["data"].get("image"), root, images)
    except DataError as e:
        raise DataError(where, e.reason) from None
    annotations = [
        a
        for a in task.get("annotations") or []
        if isinstance(a, dict) and not a.get("was_cancelled")
    ]
    results = annotations[-1].get("result") or [] if annotations else []
    labels, boxes, polygons, size = [], [], [], None
    for number, region in enumerate(results if isinstance(results, list) else [], 1):
        try:
            kind, names, value, size = _region(region)
        except (KeyError, TypeError, ValueError) as e:
            result.drop(where, f"result {number} is malformed ({e}): dropped")
            continue
        if kind is None:
            result.drop(where, f"result {number} ({region.get('type')}) left out: {value}")
            continue
        kinds.add(kind)
        if kind == "classes":
            labels += names
        elif kind == "box":
            boxes += [Box(*value, name) for name in names[:1]]
        else:
            polygons += [(name, [value]) for name in names[:1]]
    if polygons and not boxes:
        boxes = [
            Box(min(p[0::2]), min(p[1::2]), max(p[0::2]), max(p[1::2]), n) for n, (p,) in polygons
        ]
    mask = Shapes(size[1], size[0], tuple(polygons)) if polygons and size else None
    split = split_named(str(task["data"].get("split") or ""))
    return SourceItem(
        relative_name(path, root),
        path=path,
        labels=tuple(labels),
        boxes=tuple(boxes),
        mask=mask,
        split=split,
    )


def _region(region: dict) -> tuple[str | None, list[str], Any, tuple[int, int] | None]:
    """(kind, class names, corners or polygon in pixels, (width, height)) of one result;
    kind None (and the reason as value) for what lumos does not read."""
    kind = _KINDS.get(region["type"])
    value = region["value"]
    if kind is None:
        return None, [], "lumos reads choices, rectangles and polygons", None
    names = [str(n) for n in value[region["type"]]]
    if kind == "classes":
        return kind, names, None, None
    width, height = int(region["original_width"]), int(region["original_height"])
    if kind == "box":
        if float(value.get("rotation") or 0):
            return None, [], "a rotated rectangle is not an axis-aligned box", None
        x, y = float(value["x"]) * width / 100, float(value["y"]) * height / 100
        w, h = float(value["width"]) * width / 100, float(value["height"]) * height / 100
        return kind, names, (x, y, x + w, y + h), (width, height)
    points = [c for px, py in value["points"] for c in (px * width / 100, py * height / 100)]
    if len(points) < 6:
        raise ValueError("fewer than 3 points")
    return kind, names, points, (width, height)


def write(dataset: Dataset, out: Path) -> None:
    """``images/<name>.png``, ``tasks.json`` (one task per image, its labels as a finished
    annotation, ``data.image`` as Label Studio's local-files URL with the export folder as
    the document root) and ``label_config.xml``, the labelling interface for the classes."""
    if dataset.manifest["has_masks"]:
        raise DataError(
            out, "the Label Studio export holds classes and boxes: use COCO or VOC for masks"
        )
    stems = export_stems(dataset)
    tasks = []
    for task_id, sample in enumerate(dataset, 1):
        name = f"images/{stems[sample.index]}.png"
        save_image(out / name, sample.image)
        data = {"image": f"/data/local-files/?d={name}", "split": sample.split}
        annotation = {
            "id": task_id,
            "result": _results(sample, dataset.classes),
            "ground_truth": False,
        }
        tasks.append({"id": task_id, "data": data, "annotations": [annotation]})
    (out / TASKS_FILE).write_text(json.dumps(tasks, indent=1, ensure_ascii=False), encoding="utf-8")
    (out / CONFIG_FILE).write_text(_config(dataset), encoding="utf-8")


def _results(sample: Sample, classes: list[str]) -> list[dict]:
    if sample.label != -1:
        labels = sample.label if isinstance(sample.label, list) else [sample.label]
        value = {"choices": [classes[i] for i in labels]}
        return [{"type": "choices", "from_name": "class", "to_name": "image", "value": value}]
    height, width = sample.image.shape[:2]
    results = []
    for number, ((x1, y1, x2, y2), label) in enumerate(
        zip(sample.boxes.tolist(), sample.box_labels.tolist(), strict=True)
    ):
        value = {
            "x": 100 * x1 / width,
            "y": 100 * y1 / height,
            "width": 100 * (x2 - x1) / width,
            "height": 100 * (y2 - y1) / height,
            "rotation": 0,
            "rectanglelabels": [classes[label]],
        }
        results.append(
            {"id": f"box{number}", "type": "rectanglelabels", "from_name": "label",
             "to_name": "image", "original_width": width, "original_height": height,
             "image_rotation": 0, "value": value}
        )  # fmt: skip
    return results


def _config(dataset: Dataset) -> str:
    """Label Studio's labelling interface: the image and one control for the classes."""
    if dataset.has_class_labels:
        choice = "multiple" if dataset.multi_label else "single"
        control, item = f'Choices name="class" toName="image" choice="{choice}"', "Choice"
    else:
        control, item = 'RectangleLabels name="label" toName="image"', "Label"
    lines = ["<View>", '  <Image name="image" value="$image"/>', f"  <{control}>"]
    lines += [f"    <{item} value={quoteattr(name)}/>" for name in dataset.classes]
    lines += [f"  </{control.split()[0]}>", "</View>"]
    return "\n".join(lines) + "\n"
