"""COCO detection metrics, computed by faster-coco-eval (pycocotools' numbers, from C++)
and named as torchmetrics does.

``coco_metrics(gt, results)`` scores a COCO results list (or file) against a COCO
ground-truth document (or file): ``map`` (AP@[.5:.95]), ``map_50``, ``map_75``,
``map_small/medium/large``, ``mar_1/10/100``, ``mar_small/medium/large``, and the AP of each
class.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torchvision.ops import box_iou

from lumos.errors import DataError
from lumos.figures import pyplot
from lumos.fileio import load_json

STAT_KEYS = (
    "map", "map_50", "map_75", "map_small", "map_medium", "map_large",
    "mar_1", "mar_10", "mar_100", "mar_small", "mar_medium", "mar_large",
)  # fmt: skip


def _load(source: str | Path | dict | list, what: str) -> Any:
    """A document from a file, or a copy of the caller's whose records can be changed
    (the checks add defaults, the evaluator ids and areas) without touching theirs."""
    if isinstance(source, list):
        return [dict(record) if isinstance(record, dict) else record for record in source]
    if isinstance(source, dict):
        annotations = source.get("annotations")
        if isinstance(annotations, list):
            return {**source, "annotations": _load(annotations, what)}
        return dict(source)
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


def coco_documents(
    truths: list[dict[str, Any]], found: list[dict[str, Any]], classes: list[str]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A COCO ground truth and results list from per-image dicts.

    ``truths[i]`` has ``boxes`` (k, 4) x1y1x2y2, ``labels`` (class indices) and optionally
    ``crowd``; ``found[i]`` has ``boxes``, ``labels`` and ``scores``. Image ``i`` gets id
    ``i``, class ``k`` category id ``k + 1``.
    """
    images, annotations, results = [], [], []
    for image_id, (truth, detections) in enumerate(zip(truths, found, strict=True)):
        images.append({"id": image_id})
        crowd = np.asarray(truth.get("crowd", np.zeros(len(truth["labels"]), dtype=bool)))
        for box, label, is_crowd in zip(
            np.asarray(truth["boxes"]).tolist(),
            np.asarray(truth["labels"]).tolist(),
            crowd,
            strict=True,
        ):
            width, height = box[2] - box[0], box[3] - box[1]
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": int(label) + 1,
                    "bbox": [box[0], box[1], width, height],
                    "area": width * height,
                    "iscrowd": int(bool(is_crowd)),
                }
            )
        for box, label, score in zip(
            np.asarray(detections["boxes"]).tolist(),
            np.asarray(detections["labels"]).tolist(),
            np.asarray(detections["scores"]).tolist(),
            strict=True,
        ):
            results.append(
                {
                    "image_id": image_id,
                    "category_id": int(label) + 1,
                    "bbox": [box[0], box[1], box[2] - box[0], box[3] - box[1]],
                    "score": float(score),
                }
            )
    categories = [{"id": k + 1, "name": name} for k, name in enumerate(classes)]
    return {"images": images, "annotations": annotations, "categories": categories}, results


def coco_metrics(
    gt: str | Path | dict, results: str | Path | list, *, iou_type: str = "bbox"
) -> dict[str, Any]:
    """COCO metrics of ``results`` against ``gt``; see the module docstring for the keys."""
    return _evaluate(gt, results, iou_type)[0]


def _evaluate(
    gt: str | Path | dict, results: str | Path | list, iou_type: str = "bbox"
) -> tuple[dict[str, Any], Any, dict, list]:
    """The metrics, the COCO evaluator (None when there is nothing to score), and the
    checked ground truth and detections."""
    from faster_coco_eval import COCO, COCOeval_faster

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
        return metrics, None, truth, detections
    with contextlib.redirect_stdout(io.StringIO()):  # the evaluator prints its progress
        coco = COCO()
        coco.dataset = truth
        coco.createIndex()
        evaluator = COCOeval_faster(coco, coco.loadRes(detections), iou_type, print_function=print)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    metrics.update(
        {key: float(value) for key, value in zip(STAT_KEYS, evaluator.stats[:12], strict=True)}
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
    return metrics, evaluator, truth, detections


def detection_report(
    gt: str | Path | dict, results: str | Path | list, out: Path, *, score_threshold: float = 0.5
) -> dict[str, Any]:
    """COCO metrics, precision and recall at ``score_threshold``, per-class AP,
    precision-recall curves and a confusion matrix with a background row and column (at
    ``score_threshold``), written to ``out``; returns the metrics."""
    metrics, evaluator, truth, detections = _evaluate(gt, results)
    # The operating point: what predict and detect give at the threshold they use.
    metrics |= operating_point(truth, detections, score_threshold)
    metrics["score_threshold"] = score_threshold
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    with (out / "per_class.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["class", "ap"])
        writer.writerows(zip(metrics["classes"], metrics["map_per_class"], strict=True))
    names = metrics["classes"]
    if evaluator is not None:
        _pr_curves(evaluator.eval["precision"], names, out / "pr_curves.png")
    matrix = box_confusion(truth, detections, score_threshold=score_threshold)
    labels = [*names, "background"]
    with (out / "confusion.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["true \\ predicted", *labels])
        for name, row in zip(labels, matrix, strict=True):
            writer.writerow([name, *row.tolist()])
    _confusion_png(matrix, labels, out / "confusion.png")
    return metrics


def box_confusion(
    truth: dict, detections: list, *, iou: float = 0.5, score_threshold: float = 0.5
) -> np.ndarray:
    """Counts of true class (rows) against predicted class (columns), the last row and column
    being the background: a missed object is (class, background), a false alarm
    (background, class). Detections are matched greedily by score at ``iou``, class-blind."""
    ids = sorted(c["id"] for c in truth["categories"])
    index = {category: i for i, category in enumerate(ids)}
    background = len(ids)
    matrix = np.zeros((background + 1, background + 1), dtype=np.int64)
    by_image: dict[Any, tuple[list, list]] = {img["id"]: ([], []) for img in truth["images"]}
    for a in truth["annotations"]:
        if not a.get("iscrowd"):
            by_image[a["image_id"]][0].append(a)
    for d in detections:
        if d["score"] >= score_threshold:
            by_image[d["image_id"]][1].append(d)
    for objects, found in by_image.values():
        found.sort(key=lambda d: -d["score"])
        matched = set()
        if objects and found:
            overlaps = box_iou(
                _xyxy([d["bbox"] for d in found]), _xyxy([a["bbox"] for a in objects])
            )
        for n, d in enumerate(found):
            best, best_iou = None, iou
            for m in range(len(objects)):
                if m not in matched and float(overlaps[n, m]) >= best_iou:
                    best, best_iou = m, float(overlaps[n, m])
            if best is None:
                matrix[background, index[d["category_id"]]] += 1
            else:
                matched.add(best)
                matrix[index[objects[best]["category_id"]], index[d["category_id"]]] += 1
        for m, a in enumerate(objects):
            if m not in matched:
                matrix[index[a["category_id"]], background] += 1
    return matrix


def operating_point(truth: dict, detections: list, threshold: float) -> dict[str, float]:
    """Precision, recall and F1 of the detections scoring at least ``threshold``: a
    detection is right when it overlaps an object of its class (IoU >= 0.5, greedy)."""
    matrix = box_confusion(truth, detections, score_threshold=threshold)
    classes = len(matrix) - 1  # the last row and column are the background
    right = float(np.trace(matrix[:classes, :classes]))
    found, objects = matrix[:, :classes].sum(), matrix[:classes, :].sum()
    precision = right / found if found else 1.0
    recall = right / objects if objects else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def best_threshold(truth: dict, detections: list) -> float:
    """The score threshold (0.05 to 0.95 in steps of 0.05) with the best F1."""
    candidates = [round(t, 2) for t in np.arange(0.05, 0.951, 0.05)]
    return max(candidates, key=lambda t: operating_point(truth, detections, t)["f1"])


def _xyxy(boxes: list[list[float]]) -> torch.Tensor:
    b = torch.tensor(boxes, dtype=torch.float64)
    return torch.cat([b[:, :2], b[:, :2] + b[:, 2:]], dim=1)


def _pr_curves(precision: np.ndarray, names: list[str], path: Path) -> None:
    plt = pyplot()

    recall = np.linspace(0, 1, precision.shape[1])
    figure, axes = plt.subplots(figsize=(5.5, 4.5))
    for k, name in enumerate(names):
        curve = precision[0, :, k, 0, -1]  # IoU 0.5, all areas, 100 detections
        if (curve > -1).any():
            axes.plot(recall, np.where(curve > -1, curve, np.nan), label=name)
    axes.set_xlabel("recall")
    axes.set_ylabel("precision")
    axes.set_title("precision-recall at IoU 0.5")
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1.02)
    axes.legend(loc="lower left", fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _confusion_png(matrix: np.ndarray, labels: list[str], path: Path) -> None:
    plt = pyplot()

    size = max(4.0, 0.5 * len(labels) + 2)
    figure, axes = plt.subplots(figsize=(size, size))
    axes.imshow(matrix, cmap="Blues")
    axes.set_xticks(range(len(labels)), labels, rotation=90)
    axes.set_yticks(range(len(labels)), labels)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    for t in range(len(labels)):
        for p in range(len(labels)):
            if matrix[t, p]:
                axes.text(p, t, str(matrix[t, p]), ha="center", va="center", fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
