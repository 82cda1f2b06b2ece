"""YOLO: ``data.yaml`` (``path``, ``train``/``val``/``test``, ``names``) with one ``.txt`` per
image in a ``labels/`` folder beside ``images/``; or Darknet's ``obj.data`` (``names`` file,
``train``/``valid`` list files, paths under ``data/``, the dataset folder as darknet sees
it), as darknet and datumaro write it, with each ``.txt`` beside its image.

A label line is ``class cx cy w h`` in 0-1 image units, or ``class x1 y1 x2 y2 ...`` for a
segmentation polygon (its box is the polygon's bounds).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from lumos.data.formats.common import (
    export_stems,
    image_files,
    relative_name,
    resolve_inside,
    save_image,
)
from lumos.data.images import read_size
from lumos.data.records import Box, Scan, Shapes, SourceItem
from lumos.errors import DataError

if TYPE_CHECKING:
    from lumos.data.dataset import Dataset

NAME = "yolo"
TASK = "detection"
_YAML_NAMES = ("data.yaml", "data.yml", "dataset.yaml")
DARKNET = "obj.data"
_DARKNET_SPLITS = {"train": "train", "valid": "val", "val": "val", "test": "test"}


def _config_file(source: Path) -> Path | None:
    if source.is_file():
        return source
    names = (*_YAML_NAMES, DARKNET)
    return next((source / n for n in names if (source / n).is_file()), None)


def sniff(source: Path) -> bool:
    if source.is_file():
        return source.suffix.lower() in (".yaml", ".yml") or source.name == DARKNET
    return _config_file(source) is not None


def _load_config(path: Path) -> dict:
    if path.name == DARKNET:
        return _darknet_config(path)
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise DataError(path, f"malformed YAML: {e}".replace("\n", " ")) from None
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(path, f"cannot read: {e}") from None
    if not isinstance(config, dict) or "names" not in config:
        raise DataError(path, "not a YOLO data file: no 'names'")
    return config


def _darknet_config(path: Path) -> dict:
    """``obj.data``'s ``key = value`` lines as a data.yaml would say them: names read from
    the names file, the list files as splits."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(path, f"cannot read: {e}") from None
    values = {k.strip(): v.strip() for k, _, v in (line.partition("=") for line in lines) if v}
    names_file = _darknet_path(path.parent, values.get("names", "obj.names"))
    if not names_file.is_file():
        raise DataError(path, f"names file {values.get('names', 'obj.names')!r} not found")
    names = [n.strip() for n in names_file.read_text(encoding="utf-8").splitlines() if n.strip()]
    splits = {_DARKNET_SPLITS[k]: v for k, v in values.items() if k in _DARKNET_SPLITS}
    return {"names": names, **splits}


def _darknet_path(root: Path, text: str) -> Path:
    """A path as darknet writes it (under ``data/``, the dataset folder) inside ``root``."""
    direct = resolve_inside(root, text)
    if not direct.exists() and Path(text).parts[:1] == ("data",):
        return resolve_inside(root, Path(*Path(text).parts[1:]))
    return direct


def _class_names(config: dict, path: Path) -> list[str]:
    names = config["names"]
    if isinstance(names, dict):
        try:
            ordered = sorted((int(k), str(v)) for k, v in names.items())
        except ValueError:
            raise DataError(path, "'names' keys must be class numbers") from None
        if [k for k, _ in ordered] != list(range(len(ordered))):
            raise DataError(path, "'names' must number classes 0, 1, 2, ... without gaps")
        return [v for _, v in ordered]
    if isinstance(names, list):
        return [str(n) for n in names]
    raise DataError(path, "'names' must be a list or a mapping")


def scan(source: Path) -> Scan:
    config_path = _config_file(source)
    if config_path is None:
        raise DataError(source, "no data.yaml: not a YOLO dataset")
    config = _load_config(config_path)
    result = Scan(
        task="detection",
        items=[],
        classes=_class_names(config, config_path),
        root=config_path.parent,
    )
    root = config_path.parent
    declared = config.get("path")
    if declared:
        try:
            root = resolve_inside(config_path.parent, str(declared))
        except DataError:
            result.warn(
                config_path.name, f"'path: {declared}' leads outside the dataset folder: ignored"
            )
    for split in ("train", "val", "test"):
        entries = config.get(split)
        for entry in entries if isinstance(entries, list) else [entries] if entries else []:
            for image in _images(root, str(entry), result):
                _add(image, root, split, result)
    return result


def _images(root: Path, entry: str, result: Scan) -> list[Path]:
    try:
        where = _darknet_path(root, entry)
    except DataError as e:
        result.skip(entry, e.reason)
        return []
    if where.is_dir():
        return list(image_files(where, result))
    if where.is_file() and where.suffix == ".txt":
        found = []
        for line in where.read_text(encoding="utf-8").splitlines():
            if line.strip():
                try:
                    found.append(_darknet_path(root, line.strip()))
                except DataError as e:
                    result.skip(line.strip(), e.reason)
        return found
    result.skip(entry, "listed in data.yaml but not found")
    return []


def label_path(image: Path) -> Path:
    """YOLO's rule: the last ``images`` folder in the path becomes ``labels``, suffix ``.txt``."""
    parts = list(image.parts)
    for i in range(len(parts) - 1, -1, -1):
        if parts[i] == "images":
            parts[i] = "labels"
            break
    return Path(*parts).with_suffix(".txt")


def _add(image: Path, root: Path, split: str, result: Scan) -> None:
    name = relative_name(image, root)
    if not image.is_file():
        result.skip(name, "image file not found")
        return
    labels = label_path(image)
    boxes: list[Box] = []
    shapes = []
    if labels.is_file():
        try:
            width, height = read_size(image)
        except DataError as e:
            result.skip(name, e.reason)
            return
        for number, line in enumerate(labels.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            parsed = _parse_line(
                line, result.classes or [], f"{relative_name(labels, root)}:{number}", result
            )
            if parsed is None:
                continue
            label, values = parsed
            if len(values) == 4:
                cx, cy, w, h = values
                boxes.append(
                    Box(
                        (cx - w / 2) * width,
                        (cy - h / 2) * height,
                        (cx + w / 2) * width,
                        (cy + h / 2) * height,
                        label,
                    )
                )
            else:
                xs, ys = [v * width for v in values[0::2]], [v * height for v in values[1::2]]
                boxes.append(Box(min(xs), min(ys), max(xs), max(ys), label))
                shapes.append((label, [[c for xy in zip(xs, ys, strict=True) for c in xy]]))
        mask = Shapes(height, width, tuple(shapes)) if shapes else None
    else:
        mask = None
    result.items.append(SourceItem(name, path=image, boxes=tuple(boxes), mask=mask, split=split))


def _parse_line(
    line: str, classes: list[str], where: str, result: Scan
) -> tuple[str, list[float]] | None:
    fields = line.split()
    try:
        number = int(fields[0])
        values = [float(v) for v in fields[1:]]
    except ValueError:
        result.drop(where, f"expected numbers, got {line.strip()[:60]!r}: dropped")
        return None
    if len(values) != 4 and (len(values) < 6 or len(values) % 2):
        result.drop(where, "expected 'class cx cy w h' or a polygon of 3+ points: dropped")
        return None
    if not 0 <= number < len(classes):
        result.drop(where, f"class id {number} is not in names (0-{len(classes) - 1}): dropped")
        return None
    return classes[number], values


def write(dataset: Dataset, out: Path) -> None:
    """``out/images/<split>/``, ``out/labels/<split>/`` and ``out/data.yaml`` (boxes only)."""
    if dataset.has_class_labels:
        raise DataError(out, "the YOLO format holds detection only")
    height, width = dataset.size
    splits = set()
    stems = export_stems(dataset)
    for sample in dataset:
        stem = stems[sample.index]
        splits.add(sample.split)
        save_image(out / "images" / sample.split / f"{stem}.png", sample.image)
        lines = []
        for (x1, y1, x2, y2), label in zip(
            sample.boxes.tolist(), sample.box_labels.tolist(), strict=True
        ):
            cx, cy, w, h = (
                (x1 + x2) / 2 / width,
                (y1 + y2) / 2 / height,
                (x2 - x1) / width,
                (y2 - y1) / height,
            )
            lines.append(f"{label} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}")
        target = out / "labels" / sample.split / f"{stem}.txt"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("".join(line + "\n" for line in lines))
    # No "path": Ultralytics then reads the folders beside data.yaml ("." would be its cwd).
    config: dict = {"names": dict(enumerate(dataset.classes))}
    config.update({split: f"images/{split}" for split in sorted(splits)})
    (out / "data.yaml").write_text(
        yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8"
    )
