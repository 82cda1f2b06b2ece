"""Changing a built network in place: input channels, stems for small inputs, heads, freezing."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

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


@dataclass(frozen=True)
class Initialisation:
    """What a model took from another's weights."""

    copied: int  # tensors copied whole (name and shape matched)
    head_classes: int = 0  # classes of the head whose rows were copied, matched by name
    head_size: int = 0  # classes the head scores (0: no head found)


def load_matching(
    model: nn.Module,
    weights: dict[str, torch.Tensor],
    *,
    labels: tuple[list[str], list[str]] | None = None,
    skip: tuple[str, ...] = ("normalize.",),
) -> Initialisation:
    """Copy tensors of ``weights`` into ``model`` where names and shapes match.

    Names may sit under another prefix in ``model`` (a classifier's ``net.layer1...`` is a
    detector's ``net.backbone.body.layer1...``): the prefix under which most tensors match
    is used; and spelt as timm's features-only networks spell them (a classifier's
    ``stages.0...`` is a detector's ``net.backbone.body.stages_0...``). Names starting with
    ``skip`` (the input normalisation) are left alone. With ``labels`` (the source's
    outputs, the model's outputs), the head (the last layer scoring the model's outputs)
    takes the source's row of each class by *name*: a class the source did not have starts
    fresh, whatever the shapes say.
    """
    target = {k: v for k, v in model.state_dict().items() if not k.startswith(skip)}
    source = {k.removeprefix("net."): v for k, v in weights.items() if not k.startswith(skip)}
    # timm's features-only networks name a network's blocks flat (stages.0 -> stages_0).
    source |= {k.replace(".", "_", 1): v for k, v in source.items() if k.count(".") > 1}
    prefix = shared_prefix(target, source)
    if prefix is None:
        return Initialisation(0)
    head = _head(model, len(labels[1])) if labels else ()
    state = model.state_dict()
    copied = 0
    for rest, value in source.items():
        name = prefix + rest
        if name in target and name not in head and target[name].shape == value.shape:
            state[name] = value
            copied += 1
    matched = 0
    if labels and head:
        matched = _copy_rows(state, source, prefix, head, *labels)
    model.load_state_dict(state)
    return Initialisation(copied, matched, len(labels[1]) if labels and head else 0)


def shared_prefix(target: dict[str, torch.Tensor], source: dict[str, torch.Tensor]) -> str | None:
    """The prefix under which most of ``source``'s tensors sit in ``target`` (name and shape
    alike); None if none does."""
    prefixes: Counter[str] = Counter()
    for name, tensor in target.items():
        for rest, value in source.items():
            prefix = name[: len(name) - len(rest)]
            whole = prefix == "" or prefix.endswith(".")  # "conv1.weight" is not "bnconv1.weight"
            if whole and name.endswith(rest) and tensor.shape == value.shape:
                prefixes[prefix] += 1
    return prefixes.most_common(1)[0][0] if prefixes else None


def _head(model: nn.Module, outputs: int) -> tuple[str, ...]:
    """The weight and bias names of the last layer with ``outputs`` output units."""
    scoring = [
        name
        for name, module in model.named_modules()
        if (isinstance(module, nn.Linear) and module.out_features == outputs)
        or (isinstance(module, nn.Conv2d) and module.out_channels == outputs)
    ]
    if not scoring:
        return ()
    return tuple(
        f"{scoring[-1]}.{p}" for p, _ in model.get_submodule(scoring[-1]).named_parameters()
    )


def _copy_rows(
    state: dict[str, torch.Tensor],
    source: dict[str, torch.Tensor],
    prefix: str,
    head: tuple[str, ...],
    source_labels: list[str],
    target_labels: list[str],
) -> int:
    """Copy the source head's row of every class both have, by name; returns how many."""
    rows = [(t, source_labels.index(c)) for t, c in enumerate(target_labels) if c in source_labels]
    given = [source.get(name.removeprefix(prefix)) for name in head]
    if not rows or any(
        g is None or g.shape[0] != len(source_labels) or g.shape[1:] != state[n].shape[1:]
        for g, n in zip(given, head, strict=True)
    ):
        return 0
    for name, value in zip(head, given, strict=True):
        for t, s in rows:
            state[name][t] = value[s]
    return len(rows)


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
