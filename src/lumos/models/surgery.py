"""Changing a built network in place: input channels, stems for small inputs, heads, freezing."""

from __future__ import annotations

from collections import Counter

import torch
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


def load_matching(
    model: nn.Module, weights: dict[str, torch.Tensor], *, skip: tuple[str, ...] = ("normalize.",)
) -> int:
    """Copy tensors of ``weights`` into ``model`` where names and shapes match; returns how
    many were copied.

    Names may sit under another prefix in ``model`` (a classifier's ``net.layer1...`` is a
    detector's ``net.backbone.body.layer1...``): the prefix under which most tensors match
    is used. Names starting with ``skip`` (the input normalisation) are left alone.
    """
    target = {k: v for k, v in model.state_dict().items() if not k.startswith(skip)}
    source = {k.removeprefix("net."): v for k, v in weights.items() if not k.startswith(skip)}
    prefixes: Counter[str] = Counter()
    for name, tensor in target.items():
        for rest, value in source.items():
            prefix = name[: len(name) - len(rest)]
            whole = prefix == "" or prefix.endswith(".")  # "conv1.weight" is not "bnconv1.weight"
            if whole and name.endswith(rest) and tensor.shape == value.shape:
                prefixes[prefix] += 1
    if not prefixes:
        return 0
    prefix = prefixes.most_common(1)[0][0]
    state = model.state_dict()
    copied = 0
    for rest, value in source.items():
        name = prefix + rest
        if name in target and target[name].shape == value.shape:
            state[name] = value
            copied += 1
    model.load_state_dict(state)
    return copied


def freeze_backbone(model: nn.Module) -> nn.Module:
    """Stop gradients in the feature extractor of a lumos model and return it.

    The backbone of a detector or torchvision segmenter; for a classifier, everything but
    its last layer with weights.
    """
    net = model.get_submodule("net")
    for path in ("backbone.body", "model.backbone", "backbone"):
        try:
            backbone = net.get_submodule(path)
        except AttributeError:
            continue
        backbone.requires_grad_(False)
        return backbone
    head = [m for m in net.modules() if isinstance(m, (nn.Linear, nn.Conv2d))][-1]
    net.requires_grad_(False)
    head.requires_grad_(True)
    return net
