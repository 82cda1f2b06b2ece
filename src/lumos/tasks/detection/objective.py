"""Training a detector: the network computes its own losses from boxes at the input size;
boxes move with the image's flips, crops and rotations; COCO mAP on validation."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from lumos.data.paired import PairedAugment
from lumos.tasks.base import Batches, Merge, Objective, Prepare, Setup, alone, paired_augment
from lumos.tasks.detection.coco import coco_documents, coco_metrics
from lumos.tasks.detection.scoring import detect_split


class BoxObjective(Objective):
    def __init__(self, setup: Setup, num_outputs: int) -> None:
        super().__init__(setup, num_outputs)
        self.paired: PairedAugment = paired_augment(setup)

    def targets(self, labels: Any, stored: tuple[int, ...], *, train: bool) -> Any:
        """Per image: boxes at the input size, labels from 1; crowds left out in training."""
        height, width = self.setup.input_size
        scale = torch.tensor([width / stored[1], height / stored[0]] * 2)
        device = self.setup.device
        targets = []
        for target in labels:
            keep = ~target["crowd"] if train else torch.ones_like(target["crowd"])
            targets.append(
                {
                    "boxes": (target["boxes"][keep] * scale).to(device),
                    "labels": (target["labels"][keep] + 1).to(device),
                }
            )
        return targets

    def augmented(
        self, images: torch.Tensor, targets: Any, seed: int, generator: torch.Generator
    ) -> tuple[torch.Tensor, Any]:
        if self.paired.active:
            images, targets = self.paired.boxes(images, targets, seed)
        return self.augment(images, generator), targets

    def forward(
        self, model: nn.Module, images: torch.Tensor, targets: Any
    ) -> tuple[torch.Tensor | None, torch.Tensor]:
        return None, sum(model(images, targets).values())

    def validate(
        self, model: nn.Module, loader: Batches, prepare: Prepare, merge: Merge = alone
    ) -> dict[str, float]:
        """COCO mAP@[.5:.95] and mAP50 on val (crowds are "ignore" regions), over every
        process's images."""
        with self.setup.arithmetic.context():
            parts = merge(detect_split(model, loader, self.setup.input_size))
        truths = [truth for part in parts for truth in part[0]]
        found = [boxes for part in parts for boxes in part[1]]
        scores = coco_metrics(*coco_documents(truths, found, self.setup.dataset.classes))
        return {"val_map": scores["map"], "val_map_50": scores["map_50"]}
