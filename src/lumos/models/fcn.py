"""Fully convolutional conversion: a classifier's fully connected layers become convolutions.

A trained classifier that is a plain chain of layers (LeNet, AlexNet, VGG, YAML networks) is
rewritten so that one pass over a large image gives a map of class scores, one per window
position: the first Linear after the feature maps becomes a convolution with the feature
map's size as its kernel, later Linears become 1x1 convolutions. Weights are reshaped, not
retrained. Networks with branches or residual connections (ResNet, GoogLeNet) are not a
chain and are refused with the layer where the chain breaks.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from lumos.models.registry import ModelError

_ELEMENTWISE = (
    nn.ReLU,
    nn.Tanh,
    nn.Sigmoid,
    nn.GELU,
    nn.LeakyReLU,
    nn.Hardswish,
    nn.Dropout,
    nn.Identity,
)


@dataclass
class Conversion:
    network: nn.Sequential
    stride: int  # pixels between neighbouring score-map positions
    window: tuple[int, int]  # (height, width) the classifier was built for
    replaced: list[str]  # "name: old -> new" for each converted layer


def _chain(
    model: nn.Module, example: torch.Tensor
) -> list[tuple[str, nn.Module, tuple[int, ...], tuple[int, ...]]]:
    """The leaf layers in the order they run, with their input and output shapes."""
    calls: list[tuple[str, nn.Module, tuple[int, ...], tuple[int, ...]]] = []
    handles = [
        module.register_forward_hook(
            lambda m, args, output, _name=name: calls.append(
                (_name, m, tuple(args[0].shape), tuple(output.shape))
            )
        )
        for name, module in model.named_modules()
        if name and not list(module.children())
    ]
    try:
        with torch.no_grad():
            model.eval()(example)
    finally:
        for handle in handles:
            handle.remove()
    return calls


def convert_to_fcn(model: nn.Module, input_shape: tuple[int, int, int]) -> Conversion:
    """The fully convolutional twin of ``model`` for (C, H, W) inputs; raises ModelError."""
    example = torch.rand(1, *input_shape)
    calls = _chain(model, example)
    layers: list[nn.Module] = []
    names: list[str] = []
    replaced: list[str] = []
    flat_from: tuple[int, ...] | None = None  # the feature-map shape a Linear will see
    last_map: tuple[int, ...] | None = None  # the newest 4-D output not yet read by a Linear
    for name, module, shape, output in calls:
        if isinstance(module, nn.Flatten):
            flat_from = shape
        elif isinstance(module, nn.Linear):
            # The feature map this Linear reads: before an nn.Flatten, or before a
            # torch.flatten() inside forward(), which no hook sees.
            spatial = flat_from or (last_map if len(shape) == 2 else None)
            channels, height, width = spatial[1:] if spatial else (module.in_features, 1, 1)
            conv = _linear_as_conv(module, channels, height, width, name)
            flat_from = last_map = None
            replaced.append(
                f"{name}: Linear({module.in_features}, {module.out_features}) -> {_describe(conv)}"
            )
            layers.append(conv)
            names.append(name)
        elif len(shape) == 4 and isinstance(module, nn.AdaptiveAvgPool2d | nn.AdaptiveMaxPool2d):
            layers.append(_fixed_pool(module, shape, output, name))
            names.append(name)
            last_map = output
        elif flat_from is not None and not isinstance(module, _ELEMENTWISE):
            raise ModelError(
                f"layer {name} ({type(module).__name__}) after the flatten cannot be converted"
            )
        else:
            layers.append(module)
            names.append(name)
        if len(output) == 4:
            last_map = output
    network = nn.Sequential(*layers).eval()
    with torch.no_grad():
        expected, x = model.eval()(example), example
        for name, layer in zip(names, layers, strict=True):
            try:
                x = layer(x)
            except RuntimeError:
                raise ModelError(
                    f"layer {name} ({type(layer).__name__}) does not take the previous layer's "
                    "output: the network has branches or residual connections, not a plain chain"
                ) from None
    if x.shape[2:] != (1, 1) or not torch.allclose(x.flatten(1), expected, atol=1e-4, rtol=1e-4):
        raise ModelError(
            "the network is not a plain chain of layers (branches or residual connections)"
        )
    return Conversion(
        network, _stride(network, input_shape), (input_shape[1], input_shape[2]), replaced
    )


def _fixed_pool(
    module: nn.Module, shape: tuple[int, ...], output: tuple[int, ...], name: str
) -> nn.Module:
    """An adaptive pool as the fixed pool it is at the training size, so it can slide."""
    if output[2:] == shape[2:]:
        return nn.Identity()
    if output[2:] == (1, 1):  # global pooling: pool over a window of the training feature size
        pool = nn.AvgPool2d if isinstance(module, nn.AdaptiveAvgPool2d) else nn.MaxPool2d
        return pool(kernel_size=tuple(shape[2:]), stride=1)
    raise ModelError(f"layer {name} ({type(module).__name__}) resizes its input and cannot slide")


def _linear_as_conv(
    linear: nn.Linear, channels: int, height: int, width: int, name: str
) -> nn.Conv2d:
    if channels * height * width != linear.in_features:
        raise ModelError(
            f"layer {name} (Linear) does not match the feature map {channels}x{height}x{width}"
        )
    conv = nn.Conv2d(channels, linear.out_features, (height, width), bias=linear.bias is not None)
    with torch.no_grad():
        conv.weight.copy_(linear.weight.view(linear.out_features, channels, height, width))
        if linear.bias is not None:
            conv.bias.copy_(linear.bias)
    return conv


def _describe(conv: nn.Conv2d) -> str:
    height, width = conv.kernel_size
    return f"Conv2d({conv.in_channels}, {conv.out_channels}, kernel {height}x{width})"


def _stride(network: nn.Sequential, input_shape: tuple[int, int, int]) -> int:
    """Measured: how many input pixels one score-map step is."""
    channels, height, width = input_shape
    with torch.no_grad():
        base = network(torch.zeros(1, channels, height, width)).shape[-1]
        wider = network(torch.zeros(1, channels, height, width * 4)).shape[-1]
    return max(1, round(3 * width / max(wider - base, 1)))
