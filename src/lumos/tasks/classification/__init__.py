"""Classification: one class (or several, for multi-label data) per image."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lumos.data import Dataset
from lumos.recipe import Recipe
from lumos.tasks.base import Objective, Setup, Task, TrainedModel
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
