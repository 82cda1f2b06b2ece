"""User-defined networks from a YAML layer list, built layer by layer with shapes inferred.

```yaml
layers:
  - conv: {out: 32, kernel: 3, padding: 1}
  - batchnorm
  - relu
  - maxpool: 2
  - flatten
  - linear: {out: classes}
```

Each layer is one of :data:`LAYERS`; its argument is a number (the main size), a mapping, or
nothing. ``classes`` stands for the dataset's class count. The input of every layer is known
while building, so a layer that does not fit is reported by its position and name.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import yaml
from torch import nn

from lumos.models.registry import ModelError

LayerFactory = Callable[[tuple[int, ...], dict[str, Any]], nn.Module]


def _conv(shape: tuple[int, ...], a: dict[str, Any]) -> nn.Module:
    return nn.Conv2d(
        shape[0],
        a["out"],
        a.get("kernel", 3),
        a.get("stride", 1),
        a.get("padding", 0),
        groups=a.get("groups", 1),
    )


LAYERS: dict[str, tuple[str, LayerFactory]] = {
    "conv": ("out", _conv),
    "linear": ("out", lambda shape, a: nn.Linear(shape[-1], a["out"])),
    "batchnorm": (
        "",
        lambda shape, a: nn.BatchNorm2d(shape[0]) if len(shape) == 3 else nn.BatchNorm1d(shape[0]),
    ),
    "relu": ("", lambda shape, a: nn.ReLU()),
    "tanh": ("", lambda shape, a: nn.Tanh()),
    "sigmoid": ("", lambda shape, a: nn.Sigmoid()),
    "gelu": ("", lambda shape, a: nn.GELU()),
    "maxpool": (
        "kernel",
        lambda shape, a: nn.MaxPool2d(a.get("kernel", 2), a.get("stride"), a.get("padding", 0)),
    ),
    "avgpool": (
        "kernel",
        lambda shape, a: nn.AvgPool2d(a.get("kernel", 2), a.get("stride"), a.get("padding", 0)),
    ),
    "globalavgpool": ("", lambda shape, a: nn.AdaptiveAvgPool2d(1)),
    "dropout": ("p", lambda shape, a: nn.Dropout(a.get("p", 0.5))),
    "flatten": ("", lambda shape, a: nn.Flatten()),
}


def load_layers(path: Path) -> list[Any]:
    """The ``layers`` list of a YAML network file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ModelError(f"{path}: cannot read network: {e}") from None
    return parse_layers(text, str(path))


def parse_layers(text: str, source: str) -> list[Any]:
    """The ``layers`` list of a YAML network's text; errors name ``source``."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ModelError(f"{source}: cannot read network: {e}".replace("\n", " ")) from None
    if not isinstance(document, dict) or not isinstance(document.get("layers"), list):
        raise ModelError(f"{source}: a network file needs a 'layers:' list")
    return document["layers"]


def build_layers(
    layers: list[Any], num_classes: int, in_channels: int, input_size: tuple[int, int]
) -> nn.Sequential:
    """Build ``layers`` for (in_channels, *input_size) inputs, ending in the class scores."""
    shape: tuple[int, ...] = (in_channels, *input_size)
    modules = []
    for position, spec in enumerate(layers, 1):
        kind, args = _parse(spec, position, num_classes)
        where = f"layer {position} ({kind})"
        try:
            module = LAYERS[kind][1](shape, args)
            with torch.no_grad():
                shape = tuple(module.eval()(torch.zeros(2, *shape)).shape[1:])
        except KeyError as e:
            raise ModelError(f"{where}: missing argument {e}") from None
        except (RuntimeError, ValueError, TypeError) as e:
            first = str(e).strip().splitlines()[0]
            raise ModelError(
                f"{where} does not fit its input of shape {list(shape)}: {first}"
            ) from None
        modules.append(module)
    if shape != (num_classes,):
        raise ModelError(
            f"the last layer gives shape {list(shape)}, expected [{num_classes}] class scores"
        )
    return nn.Sequential(*modules)


def _parse(spec: Any, position: int, num_classes: int) -> tuple[str, dict[str, Any]]:
    if isinstance(spec, str):
        kind, value = spec, None
    elif isinstance(spec, dict) and len(spec) == 1:
        kind, value = next(iter(spec.items()))
    else:
        raise ModelError(
            f"layer {position}: write a layer as 'name' or 'name: argument', got {spec!r}"
        )
    if kind not in LAYERS:
        raise ModelError(
            f"layer {position}: unknown layer {kind!r}; choose from {', '.join(LAYERS)}"
        )
    main = LAYERS[kind][0]
    if value is None:
        args: dict[str, Any] = {}
    elif isinstance(value, dict):
        args = dict(value)
    elif main:
        args = {main: value}
    else:
        raise ModelError(f"layer {position} ({kind}) takes no argument, got {value!r}")
    return kind, {k: (num_classes if v == "classes" else v) for k, v in args.items()}
