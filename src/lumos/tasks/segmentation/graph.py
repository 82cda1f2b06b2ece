"""A segmenter read from its exported graph's logits: masks, tensors and the graph's mIoU."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lumos.data import Dataset
from lumos.tasks.base import GraphRun, Seen, TrainedModel
from lumos.tasks.inputs import network_input
from lumos.tasks.segmentation.metrics import segmentation_metrics
from lumos.tasks.segmentation.result import MaskPrediction
from lumos.tasks.segmentation.scoring import graph_masks, split_confusion


def graph_answer(
    bundle: TrainedModel, outputs: list[np.ndarray], seen: Seen, top: int
) -> MaskPrediction:
    """One image's mask (at the network's input size) from its (K, H, W) logits, with the
    image as the network saw it."""
    image = network_input([seen.pixels], bundle)[0].permute(1, 2, 0).numpy()
    mask = outputs[0].argmax(0).astype(np.uint8)
    return MaskPrediction(
        seen.source, bundle.labels, image=(image * 255).round().astype(np.uint8), mask=mask
    )


def failed(bundle: TrainedModel, source: str, reason: str) -> MaskPrediction:
    return MaskPrediction(source, bundle.labels, error=reason)


def graph_score(bundle: TrainedModel, run: GraphRun, part: Dataset) -> tuple[str, float]:
    """Mean IoU of a graph's masks on ``part``."""
    confusion = split_confusion(graph_masks(run), bundle, part)
    return "mIoU", float(segmentation_metrics(confusion, bundle.labels)["miou"])


def tensors(bundle: TrainedModel, results: Sequence[MaskPrediction]) -> dict[str, np.ndarray]:
    height, width = bundle.preprocessing.input_size
    masks = [r.mask for r in results if r.mask is not None]
    return {"mask": np.stack(masks) if masks else np.zeros((0, height, width), np.uint8)}


def tensor_specs(bundle: TrainedModel) -> list[tuple[str, str, list[int]]]:
    return [("mask", "UINT8", [-1, *bundle.preprocessing.input_size])]
