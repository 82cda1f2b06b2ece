"""Segmentation networks: a small U-Net and a semantic FPN of our own, and torchvision's FCN,
DeepLabV3 and LRASPP, all returning a (N, classes, H, W) score map at the input's
resolution."""

from __future__ import annotations

import torch
import torch.nn.functional as F
import torchvision.models.segmentation as tvs
from torch import nn

from lumos.models.backbones import resnet_fpn
from lumos.models.registry import register
from lumos.models.surgery import replace_conv


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class UNet(nn.Module):
    """U-Net (Ronneberger 2015) with batch norm and ``depth`` halvings of the resolution."""

    def __init__(
        self, num_classes: int, in_channels: int = 3, width: int = 16, depth: int = 3
    ) -> None:
        super().__init__()
        widths = [width * 2**i for i in range(depth + 1)]
        self.down = nn.ModuleList([_block(in_channels, widths[0])])
        self.down.extend(_block(widths[i], widths[i + 1]) for i in range(depth))
        self.up = nn.ModuleList(
            nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2)
            for i in reversed(range(depth))
        )
        self.merge = nn.ModuleList(_block(widths[i] * 2, widths[i]) for i in reversed(range(depth)))
        self.head = nn.Conv2d(widths[0], num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else F.max_pool2d(x, 2))
            skips.append(x)
        x = skips.pop()
        for up, merge in zip(self.up, self.merge, strict=True):
            skip = skips.pop()
            x = up(x)
            x = F.pad(x, (0, skip.shape[3] - x.shape[3], 0, skip.shape[2] - x.shape[2]))
            x = merge(torch.cat([skip, x], dim=1))
        return self.head(x)


class SemanticFPN(nn.Module):
    """Panoptic FPN's semantic branch (Kirillov 2019) on a ResNet FPN: each pyramid level
    (strides 4-32) is convolved, brought to stride 4 and summed, then classified and
    upsampled to the input."""

    def __init__(self, num_classes: int, in_channels: int, depth: int = 18, width: int = 64):
        super().__init__()
        self.backbone = resnet_fpn(depth, width)
        if in_channels != 3:
            body = self.backbone.body
            body.conv1 = replace_conv(body.conv1, in_channels=in_channels)
        self.levels = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(width, width, 3, padding=1, bias=False),
                nn.BatchNorm2d(width),
                nn.ReLU(inplace=True),
            )
            for _ in range(4)
        )
        self.classify = nn.Conv2d(width, num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = list(self.backbone(x).values())[:4]  # strides 4, 8, 16, 32
        size = features[0].shape[2:]
        merged = sum(
            F.interpolate(level(f), size=size, mode="bilinear", align_corners=False)
            for level, f in zip(self.levels, features, strict=True)
        )
        return F.interpolate(
            self.classify(merged), size=x.shape[2:], mode="bilinear", align_corners=False
        )


class ScoreMap(nn.Module):
    """torchvision's segmentation models return {"out": ...}; this returns the tensor."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)["out"]


@register(
    "unet",
    "U-Net",
    "small U-Net (16-128 channels, 3 levels)",
    task="segmentation",
    default_input=(3, 128, 128),
)
def _unet(num_classes: int, in_channels: int, input_size: tuple[int, int]) -> nn.Module:
    return UNet(num_classes, in_channels)


@register(
    "fpn_resnet18",
    "Semantic FPN",
    "semantic FPN (Kirillov 2019) on ResNet-18, 64 channels",
    task="segmentation",
    default_input=(3, 128, 128),
)
def _fpn_resnet18(num_classes: int, in_channels: int, input_size: tuple[int, int]) -> nn.Module:
    return SemanticFPN(num_classes, in_channels)


def _torchvision(factory, first_conv: str):
    def build(num_classes: int, in_channels: int, input_size: tuple[int, int]) -> nn.Module:
        model = factory(weights=None, weights_backbone=None, num_classes=num_classes)
        if in_channels != 3:
            parent_name, _, leaf = first_conv.rpartition(".")
            parent = model.get_submodule(parent_name)
            setattr(parent, leaf, replace_conv(getattr(parent, leaf), in_channels=in_channels))
        return ScoreMap(model)

    return build


register("fcn_resnet50", "FCN", "FCN with a ResNet-50 backbone (Long 2015)", task="segmentation")(
    _torchvision(tvs.fcn_resnet50, "backbone.conv1")
)
register(
    "deeplabv3_mobilenet_v3_large",
    "DeepLabV3",
    "DeepLabV3, MobileNetV3-Large backbone",
    task="segmentation",
)(_torchvision(tvs.deeplabv3_mobilenet_v3_large, "backbone.0.0"))
register(
    "lraspp_mobilenet_v3_large",
    "LRASPP",
    "Lite R-ASPP, MobileNetV3-Large backbone",
    task="segmentation",
)(_torchvision(tvs.lraspp_mobilenet_v3_large, "backbone.0.0"))
