"""Segmentation from PNG class-index masks: ``images/`` and ``masks/`` matched by file stem.

Also ``train/images`` + ``train/masks`` per split, or ``images/train`` + ``masks/train``.
Mask value 0 is the background, v > 0 the v-th class of ``classes.txt`` (a leading
background line is allowed), 255 is ignored. Without ``classes.txt`` the classes are named
``class_1``, ``class_2``, ... up to the highest value found.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image

from lumos.data.formats.common import (
    export_stems,
    find_image,
    image_files,
    read_class_list,
    relative_name,
    save_image,
    split_folders,
    split_roots,
)
from lumos.data.records import Scan, SourceItem
from lumos.errors import DataError

if TYPE_CHECKING:
    from lumos.data.dataset import Dataset

NAME = "masks"
TASK = "segmentation"
_MASK_FOLDERS = ("masks", "labels", "annotations", "SegmentationClass")


def _layout(folder: Path) -> tuple[Path, Path] | None:
    for masks in _MASK_FOLDERS:
        if (folder / "images").is_dir() and (folder / masks).is_dir():
            return folder / "images", folder / masks
    return None


def _roots(source: Path) -> dict[str | None, tuple[Path, Path]]:
    roots = split_roots(source, _layout)
    if list(roots) != [None]:
        return roots
    images, masks = roots[None]  # maybe images/<split> beside masks/<split>
    by_split = {
        split: (folder, masks / folder.name)
        for split, folder in split_folders(images).items()
        if (masks / folder.name).is_dir()
    }
    return by_split or roots


def sniff(source: Path) -> bool:
    roots = _roots(source) if source.is_dir() else {}
    return any(any(m.glob("*.png")) for _, m in roots.values())


def scan(source: Path) -> Scan:
    roots = _roots(source) if source.is_dir() else {}
    if not roots:
        raise DataError(source, "no images/ and masks/ folders: not a mask dataset")
    result = Scan(
        task="segmentation", items=[], root=source, classes=read_class_list(source / "classes.txt")
    )
    for split, (images, masks) in roots.items():
        for image in image_files(images, result):
            relative = image.relative_to(images)
            mask = find_image(masks / relative.parent, relative.stem)
            if mask is None:
                result.skip(relative_name(image, source), "no mask with the same name")
                continue
            result.items.append(
                SourceItem(relative_name(image, source), path=image, mask=mask, split=split)
            )
    return result


def write(dataset: Dataset, out: Path) -> None:
    """``out/<split>/images/``, ``out/<split>/masks/`` and ``out/classes.txt``."""
    if not dataset.manifest["has_masks"]:
        raise DataError(out, "the masks format needs a dataset with masks")
    stems = export_stems(dataset)
    for sample in dataset:
        stem = stems[sample.index]
        save_image(out / sample.split / "images" / f"{stem}.png", sample.image)
        (out / sample.split / "masks").mkdir(parents=True, exist_ok=True)
        Image.fromarray(sample.mask).save(out / sample.split / "masks" / f"{stem}.png")
    (out / "classes.txt").write_text("\n".join(dataset.classes) + "\n", encoding="utf-8")
