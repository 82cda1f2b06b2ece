"""An image classifier as lumos stores it: input normalisation in front of the network.

The normalisation is part of the model, so every front end feeds it the same 0-1 images and
an exported graph carries its own preprocessing.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn


class Normalize(nn.Module):
    """``(x - mean) / std`` with per-channel (C, 1, 1) or mean-image (C, H, W) statistics."""

    def __init__(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("mean", mean.float())
        self.register_buffer("std", std.float())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


def per_channel(mean: list[float], std: list[float]) -> Normalize:
    shape = (len(mean), 1, 1)
    return Normalize(torch.tensor(mean).view(shape), torch.tensor(std).clamp_min(1e-6).view(shape))


def mean_image(image: torch.Tensor) -> Normalize:
    """Subtract a (C, H, W) mean image in 0-1, as DIGITS did."""
    return Normalize(image, torch.ones(image.shape[0], 1, 1))


def identity(channels: int) -> Normalize:
    return Normalize(torch.zeros(channels, 1, 1), torch.ones(channels, 1, 1))


def image_classifier(net: nn.Module, normalize: Normalize) -> nn.Sequential:
    """``normalize`` then ``net``; state-dict keys are ``normalize.*`` and ``net.*``."""
    return nn.Sequential(OrderedDict(normalize=normalize, net=net))
