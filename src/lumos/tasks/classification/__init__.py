"""Classification: one class (or several, for multi-label data) per image."""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType
from typing import Any

from lumos.data import Dataset
from lumos.recipe import Recipe
from lumos.tasks.base import Objective, PretrainedStart, Setup, Task, TrainedModel
from lumos.tasks.classification import graph as class_graph
from lumos.tasks.classification.labels import ClassLabels
from lumos.tasks.classification.objective import MultiLabel, SingleLabel
from lumos.tasks.classification.scoring import evaluate, tuned_thresholds
from lumos.tasks.report import Report, write_report

SMALL_GRAYSCALE = 32  # grayscale images up to this side suit LeNet-5


class Classification(Task):
    name = "classification"
    label_kind = ClassLabels()
    graph = class_graph
    does = "classifies images"
    noun = "classifier"
    targets = "labels"
    default_metric = "val_accuracy"
    needs = "class labels"
    example_network = "resnet18"
    multi_label = True
    transfers = True
    labels_whole_images = True
    prunable = True  # pruning's fine-tuning and its tests cover classifiers only
    pretrained = (  # ImageNet top-1 as torchvision states it: 80.9, 77.7, 75.3, 69.8%
        PretrainedStart("resnet50", "torchvision:resnet50.IMAGENET1K_V2"),
        PretrainedStart("efficientnet_b0", "torchvision:efficientnet_b0.IMAGENET1K_V1"),
        PretrainedStart("mobilenet_v3_large", "torchvision:mobilenet_v3_large.IMAGENET1K_V2"),
        PretrainedStart("resnet18", "torchvision:resnet18.IMAGENET1K_V1"),
    )
    fine_tuning = MappingProxyType(
        {"finetune": "lp-ft", "lr": 0.01}
    )  # the head probed first (Kumar 2022)

    def fits(self, dataset: Dataset) -> bool:
        return dataset.has_class_labels

    def suggested_network(self, size: tuple[int, int], channels: int) -> str:
        """LeNet-5 for small grayscale images (digits, MNIST), else a ResNet-18 (with its
        small-input stem below 64 pixels)."""
        return "lenet5" if channels == 1 and max(size) <= SMALL_GRAYSCALE else "resnet18"

    def recipe_problem(self, recipe: Recipe) -> str | None:
        if recipe.scale_jitter > 0:
            return "scale_jitter is for detectors and segmenters; use crop_scale"
        return super().recipe_problem(recipe)

    def tuned_settings(self, bundle: TrainedModel, validation: Dataset) -> dict[str, Any]:
        """A multi-label model's threshold per class, tuned for F1 on validation."""
        return {"thresholds": tuned_thresholds(bundle, validation)} if bundle.multi_label else {}

    def objective(self, setup: Setup) -> Objective:
        kind = MultiLabel if setup.dataset.multi_label else SingleLabel
        return kind(setup, len(setup.dataset.classes))

    def score(
        self, bundle: TrainedModel, part: Dataset, split: str, folder: Path, *, trust_code: bool
    ) -> Report:
        report = evaluate(bundle, part, split, trust_code=trust_code)
        write_report(report, part, folder)
        return report


CLASSIFICATION = Classification()
