"""A segmentation label: ``{"polygons": [{"class": "cat", "points": [[x, y], ...]}]}``."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from lumos.data.records import Shapes, SourceItem
from lumos.tasks.labelling import LabelError, LabelKind, Value, class_of


class PolygonLabels(LabelKind):
    dataset_kind = "segmentation"
    noun = "polygon"

    def _check(
        self, value: Value, classes: list[str], multi_label: bool, size: tuple[int, int]
    ) -> Value:
        polygons = value.get("polygons")
        if not isinstance(polygons, list):
            raise LabelError("a segmentation label needs 'polygons': a list")
        checked = []
        for number, polygon in enumerate(polygons, 1):
            try:
                points = [[float(x), float(y)] for x, y in polygon["points"]]
            except (KeyError, TypeError, ValueError):
                raise LabelError(f"polygon {number} needs 'points': [[x, y], ...]") from None
            if len(points) < 3 or not all(map(math.isfinite, np.ravel(points))):
                raise LabelError(f"polygon {number} needs at least 3 finite points")
            checked.append({"class": class_of(polygon.get("class"), classes), "points": points})
        return {"polygons": checked}

    def classes_in(self, value: Value) -> list[str]:
        return [polygon["class"] for polygon in value.get("polygons", [])]

    def item(self, source: str, value: Value, size: tuple[int, int]) -> SourceItem:
        width, height = size
        shapes = tuple(
            (p["class"], [[c for point in p["points"] for c in point]]) for p in value["polygons"]
        )
        return SourceItem(source, mask=Shapes(height, width, shapes))

    def from_sample(self, sample: Any, classes: list[str]) -> Value | None:
        return None  # a stored mask is pixels; polygons are drawn anew

    def from_result(self, result: Any) -> tuple[Value, float]:
        raise LabelError("pre-labels come from classifiers and detectors; segmentation is drawn")

    def edits(self, start: Value, end: Value) -> int:
        a, b = start.get("polygons", []), end.get("polygons", [])
        same = sum(1 for p in b if p in a)
        return len(a) + len(b) - 2 * same

    def pair_agreement(self, pairs: list[tuple[Value, Value, tuple[int, int]]]) -> dict[str, float]:
        """Mean IoU of the two annotators' masks, over the classes either painted."""
        ious = []
        for a, b, size in pairs:
            mask_a, mask_b = _paint(a, size), _paint(b, size)
            for name in set(self.classes_in(a)) | set(self.classes_in(b)):
                x, y = mask_a == name, mask_b == name
                ious.append((x & y).sum() / max((x | y).sum(), 1))
        return {"mean_iou": float(np.mean(ious)) if ious else 1.0}


def _paint(value: Value, size: tuple[int, int]) -> np.ndarray:
    """The class name of each pixel (later polygons on top; "" for none)."""
    from PIL import Image, ImageDraw

    names = [""] + [p["class"] for p in value["polygons"]]
    canvas = Image.new("I", size, 0)
    draw = ImageDraw.Draw(canvas)
    for number, polygon in enumerate(value["polygons"], 1):
        draw.polygon([tuple(point) for point in polygon["points"]], fill=number)
    return np.array(names, dtype=object)[np.asarray(canvas)]
