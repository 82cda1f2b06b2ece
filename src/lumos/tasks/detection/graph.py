"""A detector read from its exported graph: each image's boxes, the answers in the input
file's pixels, tensors and the graph's mAP.

The graph (lumos.tasks.detection.export_graph) gives the boxes of a whole batch: ``image (M,)``,
``boxes (M, 4)`` x1y1x2y2 in input pixels, ``scores (M,)`` and ``labels (M,)`` (indices
into the bundle's labels, 0 the background never among them).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from lumos.data import Dataset
from lumos.data.geometry import unplace_boxes
from lumos.models.normalization import one_label_per_object
from lumos.tasks.base import GraphRun, Seen, TrainedModel
from lumos.tasks.detection.coco import coco_documents, coco_metrics
from lumos.tasks.detection.result import Detections
from lumos.tasks.detection.scoring import graph_detections


def split_outputs(outputs: Sequence[np.ndarray], count: int) -> list[list[np.ndarray]]:
    """Each image's (boxes, scores, labels) from a batch's outputs."""
    image, boxes, scores, labels = outputs
    return [[boxes[image == n], scores[image == n], labels[image == n]] for n in range(count)]


def stored_boxes(bundle: TrainedModel, boxes: np.ndarray) -> np.ndarray:
    """Boxes in input pixels as pixels of the stored image size."""
    (height, width), (in_height, in_width) = (
        bundle.preprocessing.size,
        bundle.preprocessing.input_size,
    )
    return boxes * np.array([width / in_width, height / in_height] * 2, dtype=np.float32)


def graph_answer(
    bundle: TrainedModel, outputs: list[np.ndarray], seen: Seen, top: int
) -> Detections:
    """One image's boxes at the bundle's operating point, one label per object, in the
    pixels of the image as it came in."""
    boxes, scores, labels = outputs
    found = one_label_per_object(
        {"boxes": torch.from_numpy(boxes), "scores": torch.from_numpy(scores),
         "labels": torch.from_numpy(labels)}
    )  # fmt: skip
    keep = found["scores"] >= bundle.score_threshold
    return Detections(
        unplace_boxes(stored_boxes(bundle, found["boxes"][keep].numpy()), seen.placement),
        found["scores"][keep].numpy(),
        [bundle.labels[k] for k in found["labels"][keep].tolist()],
        seen.source,
    )


def failed(bundle: TrainedModel, source: str, reason: str) -> Detections:
    return Detections.failed(source, reason)


def graph_score(bundle: TrainedModel, run: GraphRun, part: Dataset) -> tuple[str, float]:
    """COCO mAP at IoU 0.5 of a graph's boxes on ``part``."""
    truths, found = graph_detections(bundle, run, part)
    return "mAP50", float(coco_metrics(*coco_documents(truths, found, part.classes))["map_50"])


def tensors(bundle: TrainedModel, results: Sequence[Detections]) -> dict[str, np.ndarray]:
    """Every image's boxes in one list: ``image`` (M,) says whose."""
    count = [len(r.labels) for r in results]
    return {
        "image": np.repeat(np.arange(len(results), dtype=np.int64), count),
        "boxes": np.concatenate([r.boxes.reshape(-1, 4) for r in results]).astype(np.float32),
        "scores": np.concatenate([r.scores for r in results]).astype(np.float32),
        "labels": np.array([label.encode() for r in results for label in r.labels], dtype=object),
    }


def tensor_specs(bundle: TrainedModel) -> list[tuple[str, str, list[int]]]:
    return [("image", "INT64", [-1]), ("boxes", "FP32", [-1, 4]), ("scores", "FP32", [-1]),
            ("labels", "BYTES", [-1])]  # fmt: skip
