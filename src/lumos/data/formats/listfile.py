"""DIGITS' text-file source: lines of ``path label`` (``path a,b`` for several labels).

SOURCE is one list file, or a folder holding ``train.txt``, ``val.txt`` and/or ``test.txt``.
Paths are relative to the list file's folder and may contain spaces (the label is the last
word). Numeric labels are mapped to names through ``labels.txt`` beside the list, if any.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from lumos.data.formats.common import export_stems, resolve_inside, save_image, split_named
from lumos.data.records import Scan, SourceItem
from lumos.errors import DataError

if TYPE_CHECKING:
    from lumos.data.dataset import Dataset

NAME = "list"
TASK = "classification"
_LISTS = ("train.txt", "val.txt", "test.txt")


def sniff(source: Path) -> bool:
    if source.is_file():
        return source.suffix.lower() == ".txt"
    return source.is_dir() and any((source / name).is_file() for name in _LISTS)


def scan(source: Path) -> Scan:
    if source.is_dir():
        lists = {split_named(Path(n).stem): source / n for n in _LISTS if (source / n).is_file()}
        if not lists:
            raise DataError(source, "no train.txt, val.txt or test.txt list file in this folder")
    else:
        lists = {None: source}
    result = Scan(task="classification", items=[])
    for split, path in lists.items():
        _read_list(path, split, result)
    result.multi_label = any(len(item.labels) > 1 for item in result.items)
    return result


def _read_list(path: Path, split: str | None, result: Scan) -> None:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise DataError(path, "list file is not UTF-8 text") from None
    except OSError as e:
        raise DataError(path, f"cannot read: {e.strerror}") from None
    names = _label_names(path.parent / "labels.txt")
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{path.name}:{number}"
        parts = line.rsplit(maxsplit=1)
        if len(parts) != 2:
            result.skip(where, "expected 'path label'")
            continue
        relative, label_text = parts
        labels = tuple(label for label in (s.strip() for s in label_text.split(",")) if label)
        if names is not None:
            try:
                labels = tuple(names[int(label)] for label in labels)
            except (ValueError, IndexError):
                result.skip(where, f"label {label_text!r} is not a line number of labels.txt")
                continue
        try:
            image = resolve_inside(path.parent, relative)
        except DataError as e:
            result.skip(f"{where} {relative}", e.reason)
            continue
        if not image.is_file():
            result.skip(f"{where} {relative}", "image file not found")
            continue
        result.items.append(SourceItem(relative, path=image, labels=labels, split=split))


def _label_names(path: Path) -> list[str] | None:
    if not path.is_file():
        return None
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def write(dataset: Dataset, out: Path) -> None:
    """``out/images/<split>/<record>.png`` and ``out/<split>.txt`` with class names."""
    if not dataset.has_class_labels:
        raise DataError(out, "the list format holds classification only")
    lines: dict[str, list[str]] = {}
    stems = export_stems(dataset)
    for sample in dataset:
        relative = f"images/{sample.split}/{stems[sample.index]}.png"
        save_image(out / relative, sample.image)
        labels = sample.label if isinstance(sample.label, list) else [sample.label]
        names = ",".join(dataset.classes[i] for i in labels)
        lines.setdefault(sample.split, []).append(f"{relative} {names}")
    for split, entries in lines.items():
        (out / f"{split}.txt").write_text("\n".join(entries) + "\n", encoding="utf-8")
