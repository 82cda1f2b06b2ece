"""COCO detection metrics, computed by pycocotools' COCOeval and named as torchmetrics does.

``coco_metrics(gt, results)`` scores a COCO results list (or file) against a COCO
ground-truth document (or file): ``map`` (AP@[.5:.95]), ``map_50``, ``map_75``,
``map_small/medium/large``, ``mar_1/10/100``, ``mar_small/medium/large``, and the AP of each
class.
"""

from __future__ import annotations

import contextlib
import copy
import io
from pathlib import Path
from typing import Any

from lumos.errors import DataError
from lumos.fileio import load_json

STAT_KEYS = (
    "map", "map_50", "map_75", "map_small", "map_medium", "map_large",
    "mar_1", "mar_10", "mar_100", "mar_small", "mar_medium", "mar_large",
)  # fmt: skip


def _load(source: str | Path | dict | list, what: str) -> Any:
    if isinstance(source, (dict, list)):
        return copy.deepcopy(source)
    return load_json(Path(source), what)


def _check_ground_truth(gt: Any, name: str) -> None:
    if not isinstance(gt, dict) or not all(
        isinstance(gt.get(k), list) for k in ("images", "annotations", "categories")
    ):
        raise DataError(
            name, "not a COCO ground truth: needs 'images', 'annotations' and 'categories' lists"
        )
    for annotation in gt["annotations"]:
        annotation.setdefault("iscrowd", 0)
        if "area" not in annotation and "bbox" in annotation:
            annotation["area"] = float(annotation["bbox"][2] * annotation["bbox"][3])


def _check_results(results: Any, image_ids: set, category_ids: set, name: str) -> None:
    if not isinstance(results, list):
        raise DataError(name, "COCO results must be a list of detections")
    for number, det in enumerate(results, 1):
        if (
            not isinstance(det, dict)
            or not {"image_id", "category_id", "bbox", "score"} <= det.keys()
        ):
            raise DataError(
                name, f"detection {number}: needs image_id, category_id, bbox and score"
            )
        bbox = det["bbox"]
        if not (
            isinstance(bbox, list)
            and len(bbox) == 4
            and all(isinstance(v, (int, float)) for v in bbox)
        ):
            raise DataError(name, f"detection {number}: bbox must be [x, y, width, height] numbers")
        if det["image_id"] not in image_ids:
            raise DataError(
                name, f"detection {number}: image_id {det['image_id']!r} is not in the ground truth"
            )
        if det["category_id"] not in category_ids:
            raise DataError(
                name,
                f"detection {number}: category_id {det['category_id']!r} is not in the ground "
                "truth",
            )


def coco_metrics(
    gt: str | Path | dict, results: str | Path | list, *, iou_type: str = "bbox"
) -> dict[str, Any]:
    """COCO metrics of ``results`` against ``gt``; see the module docstring for the keys."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    gt_name = str(gt) if isinstance(gt, (str, Path)) else "ground truth"
    results_name = str(results) if isinstance(results, (str, Path)) else "results"
    truth, detections = _load(gt, "ground truth"), _load(results, "results")
    _check_ground_truth(truth, gt_name)
    categories = {c["id"]: c.get("name", str(c["id"])) for c in truth["categories"]}
    _check_results(detections, {i["id"] for i in truth["images"]}, set(categories), results_name)
    metrics: dict[str, Any] = dict.fromkeys(STAT_KEYS, 0.0)
    metrics["classes"] = [categories[k] for k in sorted(categories)]
    metrics["map_per_class"] = [0.0] * len(categories)
    if not detections or not truth["annotations"]:
        return metrics
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its progress
        coco = COCO()
        coco.dataset = truth
        coco.createIndex()
        evaluator = COCOeval(coco, coco.loadRes(detections), iou_type)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    metrics.update(
        {key: float(value) for key, value in zip(STAT_KEYS, evaluator.stats, strict=True)}
    )
    precision = evaluator.eval["precision"][
        :, :, :, 0, -1
    ]  # IoU x recall x class, all areas, 100 dets
    per_class = []
    for k in range(precision.shape[2]):
        values = precision[:, :, k]
        values = values[values > -1]
        per_class.append(float(values.mean()) if values.size else -1.0)
    metrics["map_per_class"] = per_class
    return metrics
