"""Training a classifier: cross-entropy (or per-class sigmoid for multi-label data), class
balance by weights or by sampling, MixUp/CutMix, top-1/top-5 (or exact match and micro F1)
on validation."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.transforms import v2

from lumos.data.augment import Augment
from lumos.recipe import Recipe
from lumos.tasks.base import Batches, Merge, Objective, Prepare, Setup, alone


class SingleLabel(Objective):
    """One class per image: softmax cross-entropy, with label smoothing and class weights."""

    def __init__(self, setup: Setup, num_outputs: int) -> None:
        super().__init__(setup, num_outputs)
        r = setup.recipe
        self.augment = Augment(
            r.hflip, r.vflip, r.crop_scale, r.rotation, r.color_jitter, r.invert, r.noise
        )
        self.mix = _mixer(r, num_outputs)
        self.class_weights = self._class_weights()

    def _class_counts(self) -> np.ndarray:
        labels = self.setup.train_split.labels()
        if labels.ndim == 2:  # one column per class
            return labels.sum(axis=0).astype(np.float64)
        return np.bincount(labels, minlength=self.num_outputs).astype(np.float64)

    def _class_weights(self) -> torch.Tensor | None:
        if self.setup.recipe.balance != "weights":
            return None
        counts = self._class_counts()
        weights = counts.sum() / (len(counts) * np.maximum(counts, 1))
        return torch.tensor(weights, dtype=torch.float32, device=self.setup.device)

    def sample_weights(self) -> np.ndarray | None:
        if self.setup.recipe.balance != "sampler":
            return None
        counts = self._class_counts()
        return 1.0 / np.maximum(counts[self.setup.train_split.labels()], 1)

    def targets(self, labels: Any, stored: tuple[int, ...], *, train: bool) -> Any:
        return labels.to(self.setup.device, non_blocking=True)

    def augmented(
        self, images: torch.Tensor, targets: Any, seed: int, generator: torch.Generator
    ) -> tuple[torch.Tensor, Any]:
        images = self.augment(images, generator)
        return self.mix(images, targets) if self.mix is not None else (images, targets)

    def loss(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(
            logits.float(),
            targets,
            weight=self.class_weights,
            label_smoothing=self.setup.recipe.label_smoothing,
        )

    def hits(self, logits: torch.Tensor | None, labels: Any, targets: Any) -> tuple[float, float]:
        assert logits is not None
        return float((logits.argmax(1).cpu() == labels).sum()), float(len(labels))

    def validate(
        self, model: nn.Module, loader: Batches, prepare: Prepare, merge: Merge = alone
    ) -> dict[str, float]:
        sums = np.zeros(4)  # images, loss, top-1 hits, top-5 hits
        for logits, labels, _, loss in self.scored_batches(model, loader, prepare):
            ranked = logits.cpu().topk(min(5, logits.shape[1]), dim=1).indices
            top1 = (ranked[:, 0] == labels).sum().item()
            top5 = (ranked == labels[:, None]).any(1).sum().item()
            sums += (len(labels), loss, top1, top5)
        total, loss_sum, top1, top5 = sum(merge(sums)).tolist()
        return {
            "val_loss": loss_sum / total,
            "val_accuracy": top1 / total,
            "val_top5": top5 / total,
        }


class MultiLabel(SingleLabel):
    """Any number of classes per image: a sigmoid per class; exact match and micro F1."""

    def __init__(self, setup: Setup, num_outputs: int) -> None:
        super().__init__(setup, num_outputs)
        self.mix = None  # MixUp and CutMix mix one-hot targets

    def sample_weights(self) -> np.ndarray | None:
        return None  # a sampler balances single labels only

    def targets(self, labels: Any, stored: tuple[int, ...], *, train: bool) -> Any:
        return super().targets(labels, stored, train=train).float()

    def loss(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(
            logits.float(), targets, pos_weight=self.class_weights
        )

    def hits(self, logits: torch.Tensor | None, labels: Any, targets: Any) -> tuple[float, float]:
        assert logits is not None
        return float(((logits.cpu() > 0) == labels.bool()).all(1).sum()), float(len(labels))

    def validate(
        self, model: nn.Module, loader: Batches, prepare: Prepare, merge: Merge = alone
    ) -> dict[str, float]:
        sums = np.zeros(6)  # images, loss, exact matches, true and false positives, misses
        for logits, labels, _, loss in self.scored_batches(model, loader, prepare):
            predicted, truth = logits.cpu() > 0, labels.bool()
            sums += (
                len(labels),
                loss,
                (predicted == truth).all(1).sum().item(),
                (predicted & truth).sum().item(),
                (predicted & ~truth).sum().item(),
                (~predicted & truth).sum().item(),
            )
        total, loss_sum, exact, tp, fp, fn = sum(merge(sums)).tolist()
        return {
            "val_loss": loss_sum / total,
            "val_accuracy": exact / total,
            "val_f1": 2 * tp / max(2 * tp + fp + fn, 1),
        }


def _mixer(recipe: Recipe, num_classes: int) -> v2.Transform | None:
    choices: list[v2.Transform] = []
    if recipe.mixup > 0:
        choices.append(v2.MixUp(alpha=recipe.mixup, num_classes=num_classes))
    if recipe.cutmix > 0:
        choices.append(v2.CutMix(alpha=recipe.cutmix, num_classes=num_classes))
    if not choices:
        return None
    return choices[0] if len(choices) == 1 else v2.RandomChoice(choices)
