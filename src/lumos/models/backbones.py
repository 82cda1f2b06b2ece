"""Feature extractors shared by detectors and segmenters."""

from __future__ import annotations

import torchvision.models as tvm
from torch import nn
from torchvision.models.detection.backbone_utils import BackboneWithFPN


def resnet_fpn(
    depth: int, channels: int, extra: nn.Module | None = None, first: int = 1
) -> BackboneWithFPN:
    """A fresh ResNet's stages ``first`` to 4 (strides 2**(first + 1) to 32) under a
    feature pyramid of ``channels`` channels, with ``extra`` levels on top."""
    body = getattr(tvm, f"resnet{depth}")()
    widths = [64, 128, 256, 512] if depth < 50 else [256, 512, 1024, 2048]
    stages = range(first, 5)
    return BackboneWithFPN(
        body,
        {f"layer{k}": str(i) for i, k in enumerate(stages)},
        [widths[k - 1] for k in stages],
        channels,
        extra_blocks=extra,
    )
