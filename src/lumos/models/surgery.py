"""Changing a built network in place: input channels, stems for small inputs, heads, freezing."""

from __future__ import annotations

from torch import nn


def replace_conv(
    conv: nn.Conv2d,
    *,
    in_channels: int | None = None,
    kernel_size: int | None = None,
    stride: int | None = None,
    padding: int | None = None,
) -> nn.Conv2d:
    """A new convolution like ``conv`` with some of its shape changed (fresh weights)."""
    return nn.Conv2d(
        in_channels or conv.in_channels,
        conv.out_channels,
        kernel_size=kernel_size or conv.kernel_size,  # type: ignore[arg-type]
        stride=stride or conv.stride,  # type: ignore[arg-type]
        padding=conv.padding if padding is None else padding,  # type: ignore[arg-type]
        dilation=conv.dilation,  # type: ignore[arg-type]
        groups=conv.groups,
        bias=conv.bias is not None,
    )


def replace_linear(linear: nn.Linear, out_features: int) -> nn.Linear:
    """A new fully connected layer with the same input and ``out_features`` outputs."""
    return nn.Linear(linear.in_features, out_features, bias=linear.bias is not None)


def freeze(module: nn.Module, *, except_names: tuple[str, ...] = ()) -> int:
    """Stop gradients for every parameter whose name starts with none of ``except_names``."""
    frozen = 0
    for name, parameter in module.named_parameters():
        if not name.startswith(except_names):
            parameter.requires_grad_(False)
            frozen += parameter.numel()
    return frozen
