"""A segmenter read from its exported graph's logits: masks, tensors and the graph's mIoU."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lumos.data import Dataset
from lumos.data.geometry import Placement
from lumos.tasks.base import GraphRun, TrainedModel
from lumos.tasks.segmentation.metrics import segmentation_metrics
from lumos.tasks.segmentation.result import MaskPrediction
from lumos.tasks.segmentation.scoring import split_confusion


def graph_answer(
    bundle: TrainedModel, outputs: list[np.ndarray], source: str, where: Placement, top: int
) -> MaskPrediction:
    """One image's mask (at the network's input size) from its (K, H, W) logits."""
    mask = outputs[0].argmax(0).astype(np.uint8)
    return MaskPrediction(source, bundle.labels, mask=mask)


def graph_score(bundle: TrainedModel, run: GraphRun, part: Dataset) -> tuple[str, float]:
    """Mean IoU of a graph's masks on ``part``."""
    confusion = split_confusion(
        lambda images: run(images.numpy())[0].argmax(1).astype(np.uint8), bundle, part
    )
    return "mIoU", float(segmentation_metrics(confusion, bundle.labels)["miou"])


def tensors(bundle: TrainedModel, results: Sequence[MaskPrediction]) -> dict[str, np.ndarray]:
    height, width = bundle.preprocessing.input_size
    masks = [r.mask for r in results if r.mask is not None]
    return {"mask": np.stack(masks) if masks else np.zeros((0, height, width), np.uint8)}


def tensor_specs(bundle: TrainedModel) -> list[tuple[str, str, list[int]]]:
    return [("mask", "UINT8", [-1, *bundle.preprocessing.input_size])]
