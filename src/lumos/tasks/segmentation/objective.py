"""Training a segmenter: per-pixel cross-entropy that skips "ignore" pixels; masks move
with the image's flips, crops and rotations; pixel accuracy and mIoU on validation."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from lumos.data.paired import PairedAugment
from lumos.data.records import IGNORE_INDEX
from lumos.tasks.base import Batches, Merge, Objective, Prepare, Setup, alone, paired_augment
from lumos.tasks.segmentation.metrics import mask_confusion, segmentation_metrics


class MaskObjective(Objective):
    def __init__(self, setup: Setup, num_outputs: int) -> None:
        super().__init__(setup, num_outputs)
        self.paired: PairedAugment = paired_augment(setup)

    def targets(self, labels: Any, stored: tuple[int, ...], *, train: bool) -> Any:
        masks = labels.to(self.setup.device, non_blocking=True)
        size = tuple(self.setup.input_size)
        if tuple(masks.shape[1:]) != size:
            masks = F.interpolate(masks[:, None].float(), size=size, mode="nearest")[:, 0].long()
        return masks

    def augmented(
        self, images: torch.Tensor, targets: Any, seed: int, generator: torch.Generator
    ) -> tuple[torch.Tensor, Any]:
        if self.paired.active:
            images, targets = self.paired.masks(images, targets, seed)
        return self.augment(images, generator), targets

    def loss(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(
            logits.float(),
            targets,
            ignore_index=IGNORE_INDEX,
            label_smoothing=self.setup.recipe.label_smoothing,
        )

    def hits(self, logits: torch.Tensor | None, labels: Any, targets: Any) -> tuple[float, float]:
        """Labelled pixels right, and labelled pixels."""
        assert logits is not None
        valid = targets != IGNORE_INDEX
        return float(((logits.argmax(1) == targets) & valid).sum()), float(valid.sum())

    def validate(
        self, model: nn.Module, loader: Batches, prepare: Prepare, merge: Merge = alone
    ) -> dict[str, float]:
        confusion = np.zeros((self.num_outputs, self.num_outputs), dtype=np.int64)
        loss_sum, total = 0.0, 0
        for logits, masks, targets, loss in self.scored_batches(model, loader, prepare):
            loss_sum += loss
            total += len(masks)
            predicted = logits.argmax(1).cpu().numpy().astype(np.uint8)
            confusion += mask_confusion(
                predicted, targets.cpu().numpy().astype(np.uint8), self.num_outputs
            )
        parts = merge((confusion, loss_sum, total))
        confusion = sum(part[0] for part in parts)
        loss_sum, total = sum(part[1] for part in parts), sum(part[2] for part in parts)
        scores = segmentation_metrics(confusion, ["background", *self.setup.dataset.classes])
        return {
            "val_loss": loss_sum / total,
            "val_accuracy": float(scores["pixel_accuracy"]),
            "val_miou": float(scores["miou"]),
        }
