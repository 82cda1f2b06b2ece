"""Per-image random augmentation of whole batches, on whatever device the batch is on.

One affine warp (flip, rotation, random resized crop) and per-image colour factors, all
drawn from a ``torch.Generator``, so a run is repeatable from its seed. Batches are float
(N, C, H, W) in 0-1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class Augment:
    hflip: bool = False
    vflip: bool = False
    crop_scale: float = 1.0
    rotation: float = 0.0
    color_jitter: float = 0.0
    invert: float = 0.0
    noise: float = 0.0

    @property
    def geometric(self) -> bool:
        return self.crop_scale < 1 or self.rotation > 0

    @property
    def active(self) -> bool:
        return (
            self.hflip
            or self.vflip
            or self.geometric
            or self.color_jitter > 0
            or self.invert > 0
            or self.noise > 0
        )

    def __call__(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        if not self.active:
            return images
        n = images.shape[0]

        def uniform(low: float, high: float) -> torch.Tensor:
            return torch.rand(n, generator=generator).mul_(high - low).add_(low).to(images.device)

        def chance(p: float) -> torch.Tensor:
            return (torch.rand(n, generator=generator) < p).to(images.device)

        if self.geometric:
            images = self._warp(images, uniform)
        if self.hflip:
            images = torch.where(chance(0.5).view(n, 1, 1, 1), images.flip(3), images)
        if self.vflip:
            images = torch.where(chance(0.5).view(n, 1, 1, 1), images.flip(2), images)
        if self.color_jitter > 0:
            images = self._colour(images, uniform)
        if self.invert > 0:
            images = torch.where(chance(self.invert).view(n, 1, 1, 1), 1 - images, images)
        if self.noise > 0:
            noise = torch.randn(images.shape, generator=generator).to(images.device)
            images = (images + self.noise * noise).clamp_(0, 1)
        return images

    def _warp(self, images: torch.Tensor, uniform) -> torch.Tensor:
        n = images.shape[0]
        angle = uniform(-self.rotation, self.rotation) * (math.pi / 180)
        zoom = uniform(self.crop_scale, 1.0).sqrt()  # side of the crop, as a share of the image
        shift_x = uniform(-1, 1) * (1 - zoom)
        shift_y = uniform(-1, 1) * (1 - zoom)
        cos, sin = torch.cos(angle) * zoom, torch.sin(angle) * zoom
        theta = torch.stack(
            [torch.stack([cos, -sin, shift_x], 1), torch.stack([sin, cos, shift_y], 1)], 1
        )
        grid = F.affine_grid(theta.to(images.dtype), list(images.shape), align_corners=False)
        return F.grid_sample(
            images, grid, mode="bilinear", padding_mode="reflection", align_corners=False
        ).view(n, *images.shape[1:])

    def _colour(self, images: torch.Tensor, uniform) -> torch.Tensor:
        n, j = images.shape[0], self.color_jitter
        shape = (n, 1, 1, 1)
        images = images * uniform(1 - j, 1 + j).view(shape)
        mean = images.mean(dim=(1, 2, 3), keepdim=True)
        images = (images - mean) * uniform(1 - j, 1 + j).view(shape) + mean
        if images.shape[1] == 3:
            gray = images.mean(dim=1, keepdim=True)
            images = (images - gray) * uniform(1 - j, 1 + j).view(shape) + gray
        return images.clamp_(0, 1)
