"""Geometric augmentation that moves an image's labels with it: boxes or a class-index mask.

Built on torchvision's transforms v2, which transform images, bounding boxes and masks
together; each image of a batch gets its own draw. Draws come from torch's generator seeded
per batch, so a run — and a resumed run — is repeatable from its seed. After the warp, boxes
are clipped to the image and those left thinner than ``MIN_BOX`` pixels are dropped; pixels
that a crop or rotation brings in from outside the image are "ignore" in masks.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import torch
from torchvision import tv_tensors
from torchvision.transforms import v2

from lumos.data.records import IGNORE_INDEX

MIN_BOX = 2.0  # pixels: thinner boxes left after a crop are dropped


@dataclass(frozen=True)
class PairedAugment:
    """Flips, random resized crop, scale jitter and rotation of images with their labels."""

    size: tuple[int, int]  # (height, width) of the output
    hflip: bool = False
    vflip: bool = False
    crop_scale: float = 1.0  # random resized crop down to this share of the area
    scale_jitter: float = 0.0  # rescale by 1 +- this, then crop or pad back to ``size``
    rotation: float = 0.0  # degrees, either way

    @property
    def active(self) -> bool:
        return (
            self.hflip
            or self.vflip
            or self.crop_scale < 1
            or self.scale_jitter > 0
            or self.rotation > 0
        )

    @cached_property
    def _pipeline(self) -> v2.Compose:
        """The warp, built once (training calls it every batch)."""
        fill = {tv_tensors.Image: 0.0, tv_tensors.Mask: IGNORE_INDEX, "others": 0}
        steps: list[v2.Transform] = []
        if self.hflip:
            steps.append(v2.RandomHorizontalFlip())
        if self.vflip:
            steps.append(v2.RandomVerticalFlip())
        if self.rotation > 0:
            steps.append(v2.RandomRotation(self.rotation, fill=fill))
        if self.scale_jitter > 0:
            jitter = (max(0.1, 1 - self.scale_jitter), 1 + self.scale_jitter)
            steps += [
                v2.ScaleJitter(self.size, jitter),
                v2.RandomCrop(self.size, pad_if_needed=True, fill=fill),
            ]
        if self.crop_scale < 1:
            steps.append(v2.RandomResizedCrop(self.size, scale=(self.crop_scale, 1.0)))
        steps.append(v2.Resize(self.size))  # a no-op unless only flips ran on odd sizes
        return v2.Compose(steps)

    @cached_property
    def _box_pipeline(self) -> v2.Compose:
        """The warp, then boxes clipped and thin ones dropped with their labels."""
        return v2.Compose([self._pipeline, v2.SanitizeBoundingBoxes(MIN_BOX, MIN_BOX**2)])

    def boxes(
        self, images: torch.Tensor, targets: list[dict[str, torch.Tensor]], seed: int
    ) -> tuple[torch.Tensor, list[dict[str, torch.Tensor]]]:
        """Warp (N, C, H, W) images and their ``boxes``/``labels`` dicts alike."""
        pipeline = self._box_pipeline
        height, width = images.shape[2:]
        out_images, out_targets = [], []
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            for image, target in zip(images, targets, strict=True):
                boxes = tv_tensors.BoundingBoxes(
                    target["boxes"], format="XYXY", canvas_size=(height, width)
                )
                image, found = pipeline(
                    tv_tensors.Image(image), {"boxes": boxes, "labels": target["labels"]}
                )
                out_images.append(image.as_subclass(torch.Tensor))
                out_targets.append(
                    {"boxes": found["boxes"].as_subclass(torch.Tensor), "labels": found["labels"]}
                )
        return torch.stack(out_images), out_targets

    def masks(
        self, images: torch.Tensor, masks: torch.Tensor, seed: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Warp (N, C, H, W) images and their (N, H, W) class-index masks alike."""
        pipeline = self._pipeline
        out_images, out_masks = [], []
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            for image, mask in zip(images, masks, strict=True):
                image, mask = pipeline(tv_tensors.Image(image), tv_tensors.Mask(mask))
                out_images.append(image.as_subclass(torch.Tensor))
                out_masks.append(mask.as_subclass(torch.Tensor))
        return torch.stack(out_images), torch.stack(out_masks)
