"""Feature extractors shared by detectors and segmenters."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import replace

import timm
import torchvision.models as tvm
from timm.models import FeatureListNet, cspnet
from torch import Tensor, nn
from torchvision.models.detection.backbone_utils import BackboneWithFPN
from torchvision.ops.feature_pyramid_network import ExtraFPNBlock, FeaturePyramidNetwork

PYRAMID_STAGES = (2, 3, 4)  # a timm network's stages at strides 8, 16 and 32


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


def timm_features(name: str, in_channels: int = 3) -> nn.Module:
    """A fresh timm network giving its maps at strides 8, 16 and 32."""
    return timm.create_model(
        name, features_only=True, out_indices=PYRAMID_STAGES, in_chans=in_channels
    )


def cs3darknet_nano(in_channels: int = 3) -> nn.Module:
    """timm's CSPDarknet-S at half its widths (16-256 channels) and YOLOv8n's stage depths
    (1, 2, 2, 1): YOLOv8n's backbone as timm builds CSP networks, maps at strides 8-32."""
    small = cspnet.model_cfgs["cs3darknet_s"]
    half = {"out_chs": tuple(c // 2 for c in small.stem.out_chs)}
    cfg = replace(
        small,
        stem=replace(small.stem, **half),
        stages=replace(
            small.stages, out_chs=tuple(c // 2 for c in small.stages.out_chs), depth=(1, 2, 2, 1)
        ),
    )
    return FeatureListNet(
        cspnet.CspNet(cfg, in_chans=in_channels), PYRAMID_STAGES, flatten_sequential=True
    )


class FeaturePyramid(nn.Module):
    """A timm features network (see :func:`timm_features`) under a feature pyramid of
    ``channels`` channels, with ``extra`` levels on top: what torchvision's detectors take
    as a backbone (an ordered dict of maps, and ``out_channels``)."""

    def __init__(self, body: nn.Module, channels: int, extra: ExtraFPNBlock | None = None) -> None:
        super().__init__()
        self.body = body
        self.fpn = FeaturePyramidNetwork(body.feature_info.channels(), channels, extra_blocks=extra)
        self.out_channels = channels

    def forward(self, images: Tensor) -> OrderedDict[str, Tensor]:
        maps = self.body(images)
        return self.fpn(OrderedDict((str(i), m) for i, m in enumerate(maps)))
