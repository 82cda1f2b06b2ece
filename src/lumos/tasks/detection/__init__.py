"""Detection: boxes with a class and a score for every object in an image."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import torch
from torch import nn

from lumos.data import Dataset
from lumos.errors import ExportError
from lumos.models.detection import anchors_from_stats
from lumos.recipe import Recipe
from lumos.tasks.base import (
    ExportAgreement,
    ExportGraph,
    Objective,
    PretrainedStart,
    Setup,
    Task,
    TrainedModel,
)
from lumos.tasks.detection import export_graph as boxes_graph
from lumos.tasks.detection import graph as box_graph
from lumos.tasks.detection.labels import BoxLabels
from lumos.tasks.detection.objective import BoxObjective
from lumos.tasks.detection.result import Detections, write_detections
from lumos.tasks.detection.scoring import evaluate_detection, tuned_score_threshold
from lumos.tasks.report import Report


class Detection(Task):
    name = "detection"
    label_kind = BoxLabels()
    graph = box_graph
    does = "detects objects"
    noun = "detector"
    targets = "boxes"
    default_metric = "val_map_50"
    needs = "boxes"
    example_network = "fcos_resnet18_fpn"
    background = True
    finds_boxes = True
    channels_last = False  # torchvision's detectors gain nothing from it
    export_formats = ("onnx",)  # its NMS is ONNX's NonMaxSuppression
    pretrained = (  # COCO box mAP as torchvision states it: 39.2, 36.4; then an ImageNet body
        PretrainedStart("fcos_resnet50_fpn", "torchvision:fcos_resnet50_fpn.COCO_V1"),
        PretrainedStart("retinanet_resnet50_fpn", "torchvision:retinanet_resnet50_fpn.COCO_V1"),
        PretrainedStart("fcos_cs3darknet_m_fpn", "timm:cs3darknet_m.c2ns_in1k"),
    )
    fine_tuning = MappingProxyType({"lr": 0.01})

    def fits(self, dataset: Dataset) -> bool:
        return dataset.has_boxes

    def suggested_network(self, size: tuple[int, int], channels: int) -> str:
        """The light ResNet-18 FCOS."""
        return "fcos_resnet18_fpn"

    def recipe_problem(self, recipe: Recipe) -> str | None:
        if recipe.batchnorm == "reestimate":
            return "batchnorm: reestimate is for classifiers and segmenters"
        return super().recipe_problem(recipe)

    def network_options(self, dataset: Dataset, input_size: tuple[int, int]) -> dict[str, Any]:
        """Anchor sizes from the training boxes, scaled from stored to input pixels."""
        anchors = anchors_from_stats(dataset.manifest.get("boxes"))
        stored = dataset.size
        scale = math.sqrt(input_size[0] * input_size[1] / (stored[0] * stored[1]))
        anchors["sizes"] = [round(size * scale, 1) for size in anchors["sizes"]]
        return {"anchors": anchors}

    def export_graph(self, model: nn.Module, input_size: tuple[int, int]) -> ExportGraph:
        """The detector with its decoding and NMS, from images to boxes
        (:mod:`lumos.tasks.detection.export_graph`)."""
        if not boxes_graph.supported(model):
            raise ExportError(
                "cannot be exported with its post-processing (FCOS and RetinaNet detectors can)"
            )
        graph = boxes_graph.DetectionGraph(model, input_size).eval()
        return ExportGraph(graph, boxes_graph.OUTPUTS, boxes_graph.translations())

    def export_agreement(
        self, reference: Any, runs: list[list[np.ndarray]], step: int
    ) -> ExportAgreement:
        """The share of PyTorch's confident boxes the graph finds, with the largest
        difference of a matched box's corners or score; at least ``BOX_AGREEMENT``."""
        found = [[run[0] + i * step, *run[1:]] for i, run in enumerate(runs)]  # global indices
        outputs = [np.concatenate(part) for part in zip(*found, strict=True)]
        diff, agreement = boxes_graph.compare_boxes(reference, outputs)
        return ExportAgreement(diff, agreement, "box", agreement >= boxes_graph.BOX_AGREEMENT)

    def tuned_settings(self, bundle: TrainedModel, validation: Dataset) -> dict[str, Any]:
        """The operating point: the score threshold with the best F1 on validation."""
        return {"score_threshold": tuned_score_threshold(bundle, validation)}

    def objective(self, setup: Setup) -> Objective:
        return BoxObjective(setup, len(self.outputs(setup.dataset.classes)))

    def example_loss(self, model: nn.Module, images: torch.Tensor) -> torch.Tensor:
        """The detector's own losses with one box of the first class in the middle of each
        image."""
        height, width = images.shape[-2:]
        box = torch.tensor([[width / 4, height / 4, 3 * width / 4, 3 * height / 4]])
        one = torch.ones(1, dtype=torch.long)
        targets = [{"boxes": box.to(images.device), "labels": one.to(images.device)}] * len(images)
        return sum(model(images, targets).values())

    def score(
        self, bundle: TrainedModel, part: Dataset, split: str, folder: Path, *, trust_code: bool
    ) -> Report:
        return evaluate_detection(bundle, part, split, folder, trust_code=trust_code)

    def write_results(
        self, bundle: TrainedModel, results: Sequence[Detections], folder: Path
    ) -> list[Path]:
        """``<stem>-detections.png`` of every image and one COCO results file for all."""
        return write_detections(results, bundle.labels, folder)

    def split_outputs(self, outputs: Sequence[np.ndarray], count: int) -> list[list[np.ndarray]]:
        """The graph gives the boxes of a whole batch, with the image each belongs to."""
        return box_graph.split_outputs(outputs, count)


DETECTION = Detection()
