"""What each kind of label counts as an annotator's edit, and how pre-labels are read."""

from __future__ import annotations

import numpy as np
import pytest

from lumos.tasks.classification.labels import ClassLabels
from lumos.tasks.classification.result import Prediction
from lumos.tasks.detection.labels import BoxLabels
from lumos.tasks.detection.result import Detections
from lumos.tasks.segmentation.labels import PolygonLabels


def _box(x1: float, y1: float, side: float = 10, name: str = "cat") -> dict:
    return {"x1": x1, "y1": y1, "x2": x1 + side, "y2": y1 + side, "class": name}


@pytest.mark.parametrize(
    ("start", "edits"),
    [
        ([_box(0, 0), _box(50, 50)], 0),  # as it should be
        ([_box(1, 0), _box(50, 50)], 0),  # IoU 0.82: kept where it is
        ([_box(3, 0), _box(50, 50)], 1),  # IoU 0.54: moved
        ([_box(0, 0, name="dog"), _box(50, 50)], 1),  # in place, the wrong class: relabelled
        ([_box(4, 0, name="dog"), _box(50, 50)], 2),  # both
        ([_box(0, 0)], 1),  # one missing: added
        ([_box(0, 0), _box(50, 50), _box(80, 80)], 1),  # one too many: deleted
        ([], 2),  # from nothing: every box added
    ],
)
def test_box_edits_are_what_an_annotator_does(start: list, edits: int) -> None:
    assert BoxLabels().edits({"boxes": start}, {"boxes": [_box(0, 0), _box(50, 50)]}) == edits


def test_class_and_polygon_edits() -> None:
    assert ClassLabels().edits({"classes": ["a"]}, {"classes": ["a"]}) == 0
    assert ClassLabels().edits({"classes": ["a"]}, {"classes": ["b"]}) == 1
    square = {"class": "a", "points": [[0, 0], [5, 0], [5, 5]]}
    assert PolygonLabels().edits({"polygons": [square]}, {"polygons": []}) == 1


def test_prelabels_and_their_doubt() -> None:
    sure, torn = (Prediction("x", top=[("a", p), ("b", 1 - p)], labels=["a"]) for p in (0.98, 0.55))
    (value, doubt_sure), (_, doubt_torn) = (
        ClassLabels().from_result(sure),
        ClassLabels().from_result(torn),
    )
    assert value == {"classes": ["a"]} and doubt_sure < doubt_torn
    boxes = np.array([[0, 0, 10, 10], [20, 20, 30, 30]], dtype=np.float32)
    found = Detections(boxes, np.array([0.99, 0.5]), ["cat", "dog"])
    value, doubt = BoxLabels().from_result(found)
    assert [b["class"] for b in value["boxes"]] == ["cat", "dog"] and 0.5 < doubt < 0.6
    assert BoxLabels().keep_classes(value, {"dog"}) == {"boxes": [value["boxes"][1]]}
