"""A detection label: ``{"boxes": [{"x1": .., "y1": .., "x2": .., "y2": .., "class": "cat"}]}``."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torchvision.ops import box_iou

from lumos.data.records import Box, SourceItem
from lumos.tasks.labelling import LabelError, LabelKind, Value, class_of


class BoxLabels(LabelKind):
    dataset_kind = "detection"
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
            name = class_of(box.get("class"), classes)
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
