"""The classifiers of the zoo: LeNet-5, AlexNet, VGG, GoogLeNet, ResNet, MobileNet and
EfficientNet, adapted to the channels, input size and class count.

Inputs smaller than :data:`SMALL_INPUT` get a stem that keeps resolution (stride 1, no early
max-pool), as CIFAR-style networks do, so a 32x32 image is not reduced to 1x1 before the
last stage.
"""

from __future__ import annotations

from collections.abc import Callable

import torchvision.models as tvm
from torch import nn

from lumos.models.lenet import LeNet5
from lumos.models.registry import Builder, ModelError, register
from lumos.models.surgery import replace_conv

SMALL_INPUT = 64


def _small(input_size: tuple[int, int]) -> bool:
    return min(input_size) < SMALL_INPUT


@register(
    "lenet5",
    "LeNet",
    "LeNet-5 (LeCun 1998): tanh, average pooling, 61k parameters on 32x32",
    default_input=(1, 32, 32),
)
def _lenet5(num_classes: int, in_channels: int, input_size: tuple[int, int]) -> nn.Module:
    if min(input_size) < 12:
        raise ModelError(
            f"lenet5 needs inputs of at least 12x12, got {input_size[1]}x{input_size[0]}"
        )
    return LeNet5(num_classes, in_channels, input_size)


@register("alexnet", "AlexNet", "AlexNet (Krizhevsky 2012), torchvision's single-tower variant")
def _alexnet(num_classes: int, in_channels: int, input_size: tuple[int, int]) -> nn.Module:
    model = tvm.alexnet(num_classes=num_classes)
    first = model.features[0]
    if _small(input_size):
        model.features[0] = replace_conv(
            first, in_channels=in_channels, kernel_size=5, stride=1, padding=2
        )
    elif in_channels != 3:
        model.features[0] = replace_conv(first, in_channels=in_channels)
    return model


def _vgg(factory: Callable[..., tvm.VGG]) -> Builder:
    def build(num_classes: int, in_channels: int, input_size: tuple[int, int]) -> nn.Module:
        model = factory(num_classes=num_classes)
        if in_channels != 3:
            model.features[0] = replace_conv(model.features[0], in_channels=in_channels)
        if _small(input_size):  # 512x1x1 features: a 25088-wide classifier would be waste
            model.avgpool = nn.AdaptiveAvgPool2d(1)
            model.classifier = nn.Sequential(nn.Dropout(0.5), nn.Linear(512, num_classes))
        return model

    return build


for _depth, _factory in ((11, tvm.vgg11_bn), (16, tvm.vgg16_bn), (19, tvm.vgg19_bn)):
    register(f"vgg{_depth}", "VGG", f"VGG-{_depth} with batch norm (Simonyan 2014)")(_vgg(_factory))


@register("googlenet", "GoogLeNet", "GoogLeNet / Inception v1 (Szegedy 2014), no auxiliary heads")
def _googlenet(num_classes: int, in_channels: int, input_size: tuple[int, int]) -> nn.Module:
    model = tvm.googlenet(
        num_classes=num_classes, aux_logits=False, init_weights=True, transform_input=False
    )
    conv = model.conv1.conv
    if _small(input_size):
        model.conv1.conv = replace_conv(
            conv, in_channels=in_channels, kernel_size=3, stride=1, padding=1
        )
        model.maxpool1 = nn.Identity()
    elif in_channels != 3:
        model.conv1.conv = replace_conv(conv, in_channels=in_channels)
    return model


def _resnet(factory: Callable[..., tvm.ResNet]) -> Builder:
    def build(num_classes: int, in_channels: int, input_size: tuple[int, int]) -> nn.Module:
        model = factory(num_classes=num_classes)
        if _small(input_size):
            model.conv1 = replace_conv(
                model.conv1, in_channels=in_channels, kernel_size=3, stride=1, padding=1
            )
            model.maxpool = nn.Identity()
        elif in_channels != 3:
            model.conv1 = replace_conv(model.conv1, in_channels=in_channels)
        return model

    return build


for _depth, _factory in (
    (18, tvm.resnet18),
    (34, tvm.resnet34),
    (50, tvm.resnet50),
    (101, tvm.resnet101),
    (152, tvm.resnet152),
):
    register(f"resnet{_depth}", "ResNet", f"ResNet-{_depth} (He 2015)")(_resnet(_factory))


def _first_stride_one(factory: Callable[..., nn.Module]) -> Builder:
    """Networks whose ``features[0][0]`` is the stem convolution (MobileNet, EfficientNet)."""

    def build(num_classes: int, in_channels: int, input_size: tuple[int, int]) -> nn.Module:
        model = factory(num_classes=num_classes)
        stem = model.features[0][0]
        stride = 1 if _small(input_size) else None
        if stride or in_channels != 3:
            model.features[0][0] = replace_conv(stem, in_channels=in_channels, stride=stride)
        return model

    return build


register("mobilenet_v2", "MobileNet", "MobileNetV2 (Sandler 2018)")(
    _first_stride_one(tvm.mobilenet_v2)
)
register("mobilenet_v3_small", "MobileNet", "MobileNetV3-Small (Howard 2019)")(
    _first_stride_one(tvm.mobilenet_v3_small)
)
register("mobilenet_v3_large", "MobileNet", "MobileNetV3-Large (Howard 2019)")(
    _first_stride_one(tvm.mobilenet_v3_large)
)
register("efficientnet_b0", "EfficientNet", "EfficientNet-B0 (Tan 2019)")(
    _first_stride_one(tvm.efficientnet_b0)
)
