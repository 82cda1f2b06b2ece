"""End-to-end detectors: torchvision's Faster R-CNN, RetinaNet, FCOS and SSDlite.

Every detector is built without pretrained weights (lumos runs offline), for the stored
image size, and takes lumos' 0-1 batches: normalisation is lumos' own module in front
(:class:`~lumos.models.normalization.NormalizedDetector`), and torchvision's transform is
told not to normalise or resize. Class 0 is the background, so a dataset's class ``k`` is
label ``k + 1``.

Anchor sizes and aspect ratios come from the data (:func:`anchors_from_stats`): the
smallest anchor matches the smallest boxes, each pyramid level doubles it. The ResNet-18
variants are light (an FPN of 64 channels and two-convolution heads) so they train on a
CPU in minutes; the ResNet-50 variants are torchvision's standard sizes.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import torch
import torchvision.models as tvm
from torch import Tensor, nn
from torchvision.models.detection import FCOS, FasterRCNN, RetinaNet, ssdlite320_mobilenet_v3_large
from torchvision.models.detection.anchor_utils import AnchorGenerator, DefaultBoxGenerator
from torchvision.models.detection.backbone_utils import _mobilenet_extractor
from torchvision.models.detection.fcos import FCOSHead
from torchvision.models.detection.retinanet import RetinaNetHead
from torchvision.models.detection.ssd import SSD
from torchvision.models.detection.transform import GeneralizedRCNNTransform
from torchvision.ops.feature_pyramid_network import LastLevelMaxPool, LastLevelP6P7

from lumos.models.backbones import FeaturePyramid, cs3darknet_nano, resnet_fpn, timm_features
from lumos.models.registry import register
from lumos.models.surgery import replace_conv

LEVELS = 5  # feature maps a detector here predicts from (strides 8-128, or 4-64 for R-CNN)
DEFAULT_ANCHORS: dict[str, Any] = {
    "sizes": [32.0, 64.0, 128.0, 256.0, 512.0],
    "ratios": [0.5, 1.0, 2.0],
}

Detector = FasterRCNN | RetinaNet | FCOS | SSD
# FCOS keeps boxes from this score up, as RetinaNet does (torchvision's FCOS: 0.2), so that
# mAP counts the tail of the precision-recall curve; answers keep the tuned operating point.
FCOS_SCORES = 0.05


def anchors_from_stats(box_stats: dict[str, Any] | None, levels: int = LEVELS) -> dict[str, Any]:
    """Anchor sizes (one per level, doubling from the smallest boxes) and aspect ratios
    (height / width at the 5th, 50th and 95th percentiles) from a dataset's box statistics."""
    if not box_stats or not box_stats.get("count"):
        return dict(DEFAULT_ANCHORS)
    widths, heights = box_stats["width_p5_p50_p95"], box_stats["height_p5_p50_p95"]
    smallest = max(4.0, math.sqrt(widths[0] * heights[0]))
    ratios = sorted(
        {round(min(max(float(a), 0.2), 5.0), 2) for a in box_stats["aspect_p5_p50_p95"]}
    )
    return {"sizes": [round(smallest * 2**i, 1) for i in range(levels)], "ratios": ratios}


def _transform(input_size: tuple[int, int], channels: int) -> GeneralizedRCNNTransform:
    """torchvision's batching step, told to keep lumos' size and leave pixel values alone."""
    return GeneralizedRCNNTransform(
        min(input_size), max(input_size), [0.0] * channels, [1.0] * channels
    )


def _adapt(model: Detector, in_channels: int, input_size: tuple[int, int]) -> Detector:
    model.transform = _transform(input_size, in_channels)
    if in_channels != 3:
        for module in model.modules():
            for name, child in module.named_children():
                if isinstance(child, nn.Conv2d) and child.in_channels == 3:
                    setattr(module, name, replace_conv(child, in_channels=in_channels))
                    return model
    return model


class CoarseLevels(LastLevelP6P7):
    """P6 and P7 on top of the pyramid, computed in fp32 under autocast.

    They are a few pixels wide, so fp32 costs nothing here, and oneDNN's bf16 convolution
    returns NaN weight gradients in about one step of five for a 1x1 input to a 3x3
    stride-2 convolution (measured on an AMX CPU with PyTorch 2.14): what P7 sees for inputs
    of 64 pixels or fewer, and P6 for 32.
    """

    def forward(self, p: list[Tensor], c: list[Tensor], names: list[str]):
        device = p[0].device.type
        if not torch.is_autocast_enabled(device):
            return super().forward(p, c, names)
        with torch.autocast(device, enabled=False):
            return super().forward([t.float() for t in p], [t.float() for t in c], names)


def _pyramid_anchors(anchors: dict[str, Any], per_level: int) -> AnchorGenerator:
    """``per_level`` sizes spread over an octave at each level, with the data's ratios."""
    sizes = tuple(
        tuple(round(s * 2 ** (k / per_level), 1) for k in range(per_level))
        for s in anchors["sizes"]
    )
    return AnchorGenerator(sizes, (tuple(anchors["ratios"]),) * len(sizes))


def _fpn_channels(depth: int) -> int:
    return 64 if depth < 50 else 256


def _retinanet(depth: int) -> Callable[..., nn.Module]:
    def build(num_classes, in_channels, input_size, anchors=DEFAULT_ANCHORS) -> nn.Module:
        channels = _fpn_channels(depth)
        generator = _pyramid_anchors(anchors, 3)
        model = RetinaNet(
            resnet_fpn(depth, channels, CoarseLevels(channels, channels), first=2),
            num_classes,
            anchor_generator=generator,
        )
        model.head = RetinaNetHead(channels, generator.num_anchors_per_location()[0], num_classes)
        return _adapt(model, in_channels, input_size)

    return build


def _fcos(depth: int) -> Callable[..., nn.Module]:
    def build(num_classes, in_channels, input_size, anchors=DEFAULT_ANCHORS) -> nn.Module:
        channels = _fpn_channels(depth)
        model = FCOS(
            resnet_fpn(depth, channels, CoarseLevels(channels, channels), first=2),
            num_classes,
            score_thresh=FCOS_SCORES,
        )
        if depth < 50:
            model.head = FCOSHead(channels, 1, num_classes, num_convs=2)
        return _adapt(model, in_channels, input_size)

    return build


def _light_fcos(features: Callable[[int], nn.Module]) -> Callable[..., nn.Module]:
    """FCOS on a small network's maps at strides 8-32 (``features(in_channels)``), a
    64-channel pyramid and a two-convolution head."""

    def build(num_classes, in_channels, input_size, anchors=DEFAULT_ANCHORS) -> nn.Module:
        channels = _fpn_channels(18)
        pyramid = FeaturePyramid(features(in_channels), channels, CoarseLevels(channels, channels))
        model = FCOS(pyramid, num_classes, score_thresh=FCOS_SCORES)
        model.head = FCOSHead(channels, 1, num_classes, num_convs=2)
        model.transform = _transform(input_size, in_channels)
        return model

    return build


def _faster_rcnn(depth: int) -> Callable[..., nn.Module]:
    def build(num_classes, in_channels, input_size, anchors=DEFAULT_ANCHORS) -> nn.Module:
        model = FasterRCNN(
            resnet_fpn(depth, _fpn_channels(depth), LastLevelMaxPool(), first=1),
            num_classes,
            rpn_anchor_generator=_pyramid_anchors(anchors, 1),
        )
        return _adapt(model, in_channels, input_size)

    return build


def _faster_rcnn_mobilenet(num_classes, in_channels, input_size, anchors=DEFAULT_ANCHORS):
    backbone = _mobilenet_extractor(tvm.mobilenet_v3_large(), True, 6)
    maps = 3  # strides 16 and 32, and a pooled one: every map gets every size
    generator = AnchorGenerator(
        (tuple(anchors["sizes"]),) * maps, (tuple(anchors["ratios"]),) * maps
    )
    model = FasterRCNN(backbone, num_classes, rpn_anchor_generator=generator)
    return _adapt(model, in_channels, input_size)


def _ssdlite(num_classes, in_channels, input_size, anchors=DEFAULT_ANCHORS):
    model = ssdlite320_mobilenet_v3_large(
        weights=None, weights_backbone=None, num_classes=num_classes
    )
    side = min(input_size)
    smallest = min(0.9, max(0.05, anchors["sizes"][0] / side))
    model.anchor_generator = DefaultBoxGenerator(
        [[2, 3]] * 6, min_ratio=smallest, max_ratio=max(0.95, smallest + 0.1)
    )
    return _adapt(model, in_channels, input_size)


for _depth in (18, 50):
    register(
        f"fasterrcnn_resnet{_depth}_fpn",
        "Faster R-CNN",
        f"Faster R-CNN (Ren 2015), ResNet-{_depth} FPN",
        task="detection",
        default_input=(3, 512, 512),
    )(_faster_rcnn(_depth))
    register(
        f"retinanet_resnet{_depth}_fpn",
        "RetinaNet",
        f"RetinaNet (Lin 2017), ResNet-{_depth} FPN",
        task="detection",
        default_input=(3, 512, 512),
    )(_retinanet(_depth))
    register(
        f"fcos_resnet{_depth}_fpn",
        "FCOS",
        f"FCOS (Tian 2019), ResNet-{_depth} FPN",
        task="detection",
        default_input=(3, 512, 512),
    )(_fcos(_depth))
register(
    "fasterrcnn_mobilenet_v3_large_fpn",
    "Faster R-CNN",
    "Faster R-CNN, MobileNetV3-Large FPN",
    task="detection",
    default_input=(3, 512, 512),
)(_faster_rcnn_mobilenet)
register(
    "ssdlite_mobilenet_v3_large",
    "SSD",
    "SSDlite (Sandler 2018), MobileNetV3-Large",
    task="detection",
    default_input=(3, 320, 320),
)(_ssdlite)
register(
    "fcos_cs3darknet_n_fpn",
    "FCOS",
    "FCOS (Tian 2019), CSPDarknet-N FPN: YOLOv8n's backbone widths and cost, the light one",
    task="detection",
    default_input=(3, 320, 320),
)(_light_fcos(cs3darknet_nano))
register(
    "fcos_cs3darknet_s_fpn",
    "FCOS",
    "FCOS (Tian 2019), CSPDarknet-S FPN (timm's cs3darknet_s)",
    task="detection",
    default_input=(3, 320, 320),
)(_light_fcos(functools.partial(timm_features, "cs3darknet_s")))
register(
    "fcos_cs3darknet_m_fpn",
    "FCOS",
    "FCOS (Tian 2019), CSPDarknet-M FPN (timm's cs3darknet_m, whose ImageNet weights "
    "init=timm:cs3darknet_m.c2ns_in1k gives its backbone)",
    task="detection",
    default_input=(3, 320, 320),
)(_light_fcos(functools.partial(timm_features, "cs3darknet_m")))
