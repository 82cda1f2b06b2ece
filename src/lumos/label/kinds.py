"""What a label is for each kind of project: its JSON value, checks, pre-labels, edits.

Values are JSON objects in the pixels of the project's image:

- classification: ``{"classes": ["cat"]}`` (several with multi-label);
- detection: ``{"boxes": [{"x1": .., "y1": .., "x2": .., "y2": .., "class": "cat"}]}``;
- segmentation: ``{"polygons": [{"class": "cat", "points": [[x, y], ...]}]}``.

Any kind may be ``{"skip": true}``: looked at, not labelled (left out of the dataset).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Any

import numpy as np
import torch
from torchvision.ops import box_iou

from lumos.data.records import Box, Shapes, SourceItem
from lumos.errors import LumosError

Value = dict[str, Any]
SKIP: Value = {"skip": True}


class LabelError(LumosError):
    """A label value that does not fit its project."""


class LabelKind(ABC):
    """One kind of label project."""

    task: str
    noun: str  # what one label is called in messages
    multi_label: bool = False  # whether an image may carry several classes
    votes: bool = False  # whether annotators' answers are counted (else the latest decides)

    def check(
        self, value: Any, classes: list[str], multi_label: bool, size: tuple[int, int]
    ) -> Value:
        """``value`` normalised, or :class:`LabelError` naming what is wrong; ``size`` is the
        image's (width, height)."""
        if not isinstance(value, dict):
            raise LabelError("a label is a JSON object")
        if value.get("skip") is True:
            return dict(SKIP)
        return self._check(value, classes, multi_label, size)

    @abstractmethod
    def _check(
        self, value: Value, classes: list[str], multi_label: bool, size: tuple[int, int]
    ) -> Value: ...

    @abstractmethod
    def classes_in(self, value: Value) -> list[str]:
        """The class of every object (or the image's classes) in ``value``."""

    @abstractmethod
    def item(self, source: str, value: Value, size: tuple[int, int]) -> SourceItem:
        """The dataset item ``value`` labels (path filled in by the caller)."""

    @abstractmethod
    def from_sample(self, sample: Any, classes: list[str]) -> Value | None:
        """The label a stored dataset record carries (None where it cannot be drawn)."""

    @abstractmethod
    def from_result(self, result: Any) -> tuple[Value, float]:
        """A pre-label and its uncertainty (higher: less sure) from a model's result."""

    @abstractmethod
    def edits(self, start: Value, end: Value) -> int:
        """How many edits turn ``start`` into ``end`` (add, delete, move or relabel one)."""

    def same(self, a: Value, b: Value) -> bool:
        return self.edits(a, b) == 0

    def keep_classes(self, value: Value, classes: set[str]) -> Value:
        """``value`` without the objects (or image classes) not in ``classes``."""
        key = next(iter(value))
        items = value[key]
        kept = [x for x in items if (x if isinstance(x, str) else x["class"]) in classes]
        return {key: kept}

    @abstractmethod
    def pair_agreement(self, pairs: list[tuple[Value, Value, tuple[int, int]]]) -> dict[str, float]:
        """How far two annotators agree on the images both labelled: (theirs, mine, size)."""

    def group_agreement(self, ratings: list[list[Value]]) -> dict[str, float]:
        """Agreement of everyone on images every annotator labelled; none by default."""
        return {}


def _class_of(name: Any, classes: list[str]) -> str:
    if name not in classes:
        raise LabelError(f"unknown class {name!r}: choose from {', '.join(classes)}")
    return name


class ClassLabels(LabelKind):
    task = "classification"
    noun = "class"
    multi_label = True
    votes = True

    def _check(
        self, value: Value, classes: list[str], multi_label: bool, size: tuple[int, int]
    ) -> Value:
        chosen = value.get("classes")
        if not isinstance(chosen, list) or not chosen:
            raise LabelError("a class label needs 'classes': a non-empty list")
        if len(chosen) > 1 and not multi_label:
            raise LabelError("one class per image in this project (it is not multi-label)")
        names = [_class_of(name, classes) for name in chosen]
        return {"classes": sorted(set(names), key=names.index)}

    def classes_in(self, value: Value) -> list[str]:
        return list(value.get("classes", []))

    def item(self, source: str, value: Value, size: tuple[int, int]) -> SourceItem:
        return SourceItem(source, labels=tuple(value["classes"]))

    def from_sample(self, sample: Any, classes: list[str]) -> Value | None:
        labels = sample.label if isinstance(sample.label, list) else [sample.label]
        return {"classes": [classes[i] for i in labels if i >= 0]} if labels != [-1] else None

    def from_result(self, result: Any) -> tuple[Value, float]:
        """The top class; uncertainty 1 - (p1 - p2), the margin's complement."""
        top = [p for _, p in result.top] + [0.0, 0.0]
        return {"classes": list(result.labels[:1] or [result.top[0][0]])}, 1.0 - (top[0] - top[1])

    def edits(self, start: Value, end: Value) -> int:
        return int(set(self.classes_in(start)) != set(self.classes_in(end)))

    def pair_agreement(self, pairs: list[tuple[Value, Value, tuple[int, int]]]) -> dict[str, float]:
        """Cohen's kappa (a set of classes is one category) and the share that agree."""
        from sklearn.metrics import cohen_kappa_score

        a = ["|".join(sorted(x["classes"])) for x, _, _ in pairs]
        b = ["|".join(sorted(y["classes"])) for _, y, _ in pairs]
        same = sum(x == y for x, y in zip(a, b, strict=True)) / len(a)
        kappa = 1.0 if len(set(a) | set(b)) == 1 else float(cohen_kappa_score(a, b))
        return {"cohen_kappa": kappa, "agree": same}

    def group_agreement(self, ratings: list[list[Value]]) -> dict[str, float]:
        """Fleiss' kappa over images rated by the same number (all) of annotators."""
        keys = [["|".join(sorted(v["classes"])) for v in image] for image in ratings]
        categories = sorted({k for image in keys for k in image})
        counts = np.array([[image.count(c) for c in categories] for image in keys], dtype=float)
        raters = counts.sum(axis=1)[0]
        if len(counts) == 0 or raters < 2:
            return {}
        share = counts.sum(axis=0) / counts.sum()
        observed = ((counts * (counts - 1)).sum(axis=1) / (raters * (raters - 1))).mean()
        expected = float((share**2).sum())
        kappa = 1.0 if expected == 1 else (observed - expected) / (1 - expected)
        return {"fleiss_kappa": float(kappa), "images": len(counts), "raters": int(raters)}


class BoxLabels(LabelKind):
    task = "detection"
    noun = "box"
    MATCH_IOU = 0.7  # a box this close to where it should be is kept as it is

    def _check(
        self, value: Value, classes: list[str], multi_label: bool, size: tuple[int, int]
    ) -> Value:
        boxes = value.get("boxes")
        if not isinstance(boxes, list):
            raise LabelError("a box label needs 'boxes': a list")
        width, height = size
        checked = []
        for number, box in enumerate(boxes, 1):
            try:
                x1, y1, x2, y2 = (float(box[k]) for k in ("x1", "y1", "x2", "y2"))
            except (KeyError, TypeError, ValueError):
                raise LabelError(f"box {number} needs numbers x1, y1, x2, y2") from None
            x1, x2 = sorted((min(max(x1, 0.0), width), min(max(x2, 0.0), width)))
            y1, y2 = sorted((min(max(y1, 0.0), height), min(max(y2, 0.0), height)))
            if x2 - x1 < 1 or y2 - y1 < 1:
                raise LabelError(f"box {number} is smaller than a pixel inside the image")
            name = _class_of(box.get("class"), classes)
            checked.append({"x1": x1, "y1": y1, "x2": x2, "y2": y2, "class": name})
        return {"boxes": checked}

    def classes_in(self, value: Value) -> list[str]:
        return [box["class"] for box in value.get("boxes", [])]

    def item(self, source: str, value: Value, size: tuple[int, int]) -> SourceItem:
        boxes = tuple(Box(b["x1"], b["y1"], b["x2"], b["y2"], b["class"]) for b in value["boxes"])
        return SourceItem(source, boxes=boxes)

    def from_sample(self, sample: Any, classes: list[str]) -> Value | None:
        pairs = zip(sample.boxes.tolist(), sample.box_labels.tolist(), strict=True)
        boxes = [
            {"x1": x1, "y1": y1, "x2": x2, "y2": y2, "class": classes[label]}
            for (x1, y1, x2, y2), label in pairs
        ]
        return {"boxes": boxes}

    def from_result(self, result: Any) -> tuple[Value, float]:
        """The boxes at the model's operating point; uncertainty the mean binary entropy of
        their scores (boxes near 0.5 are the doubtful ones)."""
        boxes = [
            {"x1": x1, "y1": y1, "x2": x2, "y2": y2, "class": name}
            for (x1, y1, x2, y2), name in zip(result.boxes.tolist(), result.labels, strict=True)
        ]
        scores = np.clip(np.asarray(result.scores, dtype=np.float64), 1e-6, 1 - 1e-6)
        entropy = -(scores * np.log2(scores) + (1 - scores) * np.log2(1 - scores))
        return {"boxes": boxes}, float(entropy.mean()) if len(scores) else 0.0

    def edits(self, start: Value, end: Value) -> int:
        """What an annotator does to turn ``start`` into ``end``: boxes paired one to one by
        overlap (whatever their class); a pair at IoU >= 0.7 is kept where it is, else moved
        (one edit), and relabelled if its class is wrong (one more); a box of ``end`` left
        unpaired is added, a box of ``start`` left unpaired deleted (one edit each)."""
        old, new = start.get("boxes", []), end.get("boxes", [])
        pairs = box_pairs(old, new, 0.0, same_class=False)
        moved = sum(1 for _, _, iou in pairs if iou < self.MATCH_IOU)
        relabelled = sum(1 for i, j, _ in pairs if old[i]["class"] != new[j]["class"])
        return moved + relabelled + (len(new) - len(pairs)) + (len(old) - len(pairs))

    def pair_agreement(self, pairs: list[tuple[Value, Value, tuple[int, int]]]) -> dict[str, float]:
        """Boxes matched one to one at IoU >= 0.5 with the same class: F1 of the matches
        and their mean IoU."""
        matched, total, ious = 0, 0, []
        for a, b, _ in pairs:
            found = box_pairs(a["boxes"], b["boxes"], 0.5)
            matched += len(found)
            total += len(a["boxes"]) + len(b["boxes"])
            ious += [iou for _, _, iou in found]
        return {
            "box_f1": 2 * matched / total if total else 1.0,
            "mean_iou": float(np.mean(ious)) if ious else 0.0,
            "boxes": total,
        }


def box_pairs(
    a: list[dict], b: list[dict], min_iou: float, *, same_class: bool = True
) -> list[tuple[int, int, float]]:
    """Boxes of ``a`` and ``b`` (of the same class, unless not ``same_class``) paired one to
    one for the largest total IoU (above ``min_iou``): (index in a, index in b, IoU)."""
    from scipy.optimize import linear_sum_assignment

    if not a or not b:
        return []

    corners = [
        torch.tensor([[x[k] for k in ("x1", "y1", "x2", "y2")] for x in boxes], dtype=torch.float64)
        for boxes in (a, b)
    ]
    iou = box_iou(*corners).numpy()
    same = np.array([[x["class"] == y["class"] or not same_class for y in b] for x in a])
    score = np.where(same & (iou > min_iou), iou, 0.0)
    rows, cols = linear_sum_assignment(-score)
    return [
        (int(r), int(c), float(score[r, c]))
        for r, c in zip(rows, cols, strict=True)
        if score[r, c] > 0
    ]


class PolygonLabels(LabelKind):
    task = "segmentation"
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
            checked.append({"class": _class_of(polygon.get("class"), classes), "points": points})
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


KINDS: dict[str, LabelKind] = {
    kind.task: kind for kind in (ClassLabels(), BoxLabels(), PolygonLabels())
}


def kind_named(task: str) -> LabelKind:
    if task not in KINDS:
        raise LabelError(f"unknown kind of project {task!r}: choose from {', '.join(KINDS)}")
    return KINDS[task]
