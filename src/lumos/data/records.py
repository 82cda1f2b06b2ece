"""What an importer hands over: source items with annotations, and problems found on the way.

Every format reader produces a :class:`Scan`; the importer turns it into a dataset. Labels are
class *names* here; they become indices once the class list is final.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from lumos.choices import TaskKind


@dataclass(frozen=True)
class DatasetKind:
    """What a dataset is labelled for (its manifest's ``task``), and what that asks of
    importing it: where each image's classes are its labels, classes are counted per image
    (kept and capped per class, at least two of them)."""

    name: TaskKind
    whole_images: bool  # labels are the image's classes (no boxes or masks)


KINDS: dict[str, DatasetKind] = {
    kind.name: kind
    for kind in (
        DatasetKind("classification", whole_images=True),
        DatasetKind("detection", whole_images=False),
        DatasetKind("segmentation", whole_images=False),
    )
}
SPLITS = ("train", "val", "test")
IGNORE_INDEX = 255
"""Mask value for pixels that carry no label (VOC's border, padding added by a resize).

Class lists never hold a background entry: a mask value v in 1..255 is ``classes[v - 1]``,
0 is the background, and box labels index ``classes`` directly.
"""


@dataclass(frozen=True)
class Box:
    """An axis-aligned box in source-image pixels, corners (x1, y1) and (x2, y2)."""

    x1: float
    y1: float
    x2: float
    y2: float
    label: str
    crowd: bool = False


@dataclass(frozen=True)
class Shapes:
    """COCO-style polygons or RLE of one image, rasterised when the image is decoded."""

    height: int
    width: int
    shapes: tuple[tuple[str, Any], ...]  # (class name, COCO segmentation)


@dataclass(frozen=True)
class ColourMask:
    """A mask PNG whose pixels are colours: ``colours[v]`` is the RGB of mask value v.

    Palette and grayscale PNGs are read as values directly (VOC's own masks are palette
    PNGs whose indices are the values).
    """

    path: Path
    colours: dict[tuple[int, int, int], int]  # RGB -> mask value


MaskSource = Path | np.ndarray | Shapes | ColourMask


@dataclass
class SourceItem:
    """One image to import: a file or pixels, with its labels, boxes, mask and given split."""

    source: str
    path: Path | None = None
    pixels: np.ndarray | None = None
    labels: tuple[str, ...] = ()
    boxes: tuple[Box, ...] = ()
    mask: MaskSource | None = None
    split: str | None = None


ProblemKind = Literal["skipped", "dropped", "warning"]


@dataclass(frozen=True)
class Problem:
    """A file not imported (skipped), an annotation not kept (dropped), or a warning."""

    file: str
    reason: str
    kind: ProblemKind = "skipped"

    def as_dict(self) -> dict[str, str]:
        return {"file": self.file, "reason": self.reason, "kind": self.kind}


@dataclass
class Scan:
    """Everything a format reader found, before any pixel is decoded."""

    task: TaskKind
    items: list[SourceItem]
    problems: list[Problem] = field(default_factory=list)
    classes: list[str] | None = None
    multi_label: bool = False
    root: Path | None = None  # problems name files relative to it
    provenance: dict[str, Any] | None = None  # where the labels came from, kept in the manifest

    def skip(self, file: str | Path, reason: str) -> None:
        self.problems.append(Problem(self._name(file), reason, "skipped"))

    def drop(self, file: str | Path, reason: str) -> None:
        self.problems.append(Problem(self._name(file), reason, "dropped"))

    def warn(self, file: str | Path, reason: str) -> None:
        self.problems.append(Problem(self._name(file), reason, "warning"))

    def _name(self, file: str | Path) -> str:
        if isinstance(file, Path) and self.root is not None and file.is_relative_to(self.root):
            return file.relative_to(self.root).as_posix()
        return str(file)
