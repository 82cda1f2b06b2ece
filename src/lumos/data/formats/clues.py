"""What a folder seems to hold when the only reader that claimed it found a single class.

A folder of class folders with one class is rarely what a user meant: more often it is the
parent of the real class folders, or another tool's export that no lumos reader knows.
:func:`one_class_clue` says which, so the refusal can name the fix.
"""

from __future__ import annotations

from pathlib import Path

from defusedxml import DefusedXmlException, ElementTree

from lumos.data.images import is_image_name

_SAMPLED_FILES = 2000  # enough to recognise an export without walking a huge tree


def one_class_clue(root: Path, only_class: str) -> str:
    """One sentence on what ``root``, read as one class ``only_class``, holds instead."""
    plain = f"only one class ({only_class!r}): a classifier needs at least two"
    if not root.is_dir():
        return plain
    inner = root / only_class
    class_folders = _folders_with_images(inner) if inner.is_dir() else []
    if len(class_folders) >= 2:
        return (
            f"one class {only_class!r} holding {len(class_folders)} class folders: "
            f"did you mean {inner}?"
        )
    files = _sample_files(root)
    darknet = next((path for path in files if path.name == "obj.data"), None)
    if darknet is not None:
        return f"found Darknet YOLO files in {darknet.parent}: import that folder (--format yolo)"
    cvat = next(
        (p for p in files if p.suffix.lower() == ".xml" and _root_tag(p) == "annotations"), None
    )
    if cvat is not None:
        return f"found a CVAT export in {cvat.parent}: import that folder (--format cvat)"
    for path in files:
        if path.parent.name == "label_2" and path.suffix == ".txt":
            subset = path.parent.parent
            return f"found a KITTI export in {subset}: import that folder (--format kitti)"
    return plain


def _folders_with_images(folder: Path) -> list[Path]:
    return [
        child
        for child in sorted(folder.iterdir())
        if child.is_dir() and any(is_image_name(p) for p in child.rglob("*") if p.is_file())
    ]


def _sample_files(root: Path) -> list[Path]:
    files = []
    for path in root.rglob("*"):
        if path.is_file() and not is_image_name(path):
            files.append(path)
            if len(files) >= _SAMPLED_FILES:
                break
    return files


def _root_tag(path: Path) -> str | None:
    try:
        for _, element in ElementTree.iterparse(path, events=("start",)):
            return element.tag
    except (ElementTree.ParseError, DefusedXmlException, OSError, UnicodeDecodeError):
        return None
    return None
