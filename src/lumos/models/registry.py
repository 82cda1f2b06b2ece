"""The registry of networks and the factory that builds them.

A module that defines networks registers each with :func:`register` (as timm's
``register_model`` does); :mod:`lumos.models.zoo` imports every such module, so importing
``lumos.models`` registers them all. ``timm:NAME`` builds any timm model.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import nn

from lumos.errors import LumosError

TIMM_PREFIX = "timm:"
Builder = Callable[..., nn.Module]  # (num_classes, in_channels, input_size, **options)


class ModelError(LumosError):
    """A network that cannot be built as asked."""


@dataclass(frozen=True)
class ModelEntry:
    name: str
    family: str
    description: str
    build: Builder
    # The name of the task that reads its outputs (lumos.tasks); None: the default task's,
    # an image's class scores (timm's networks and layer files too)
    task: str | None = None
    # The input it was designed for, (channels, height, width), as timm's pretrained_cfg
    # says: the shape `lumos models show` measures unless told another.
    default_input: tuple[int, int, int] = (3, 224, 224)
    # How its inputs are normalised unless a recipe says otherwise: "per-channel" (the
    # data's mean and std), "mean-image" or "none". Weights trained elsewhere bring their own.
    default_normalize: str = "per-channel"

    def as_dict(self) -> dict[str, Any]:
        """The entry as a row of the zoo's listings (``task`` None: the default task)."""
        return {
            "name": self.name,
            "task": self.task,
            "family": self.family,
            "description": self.description,
            "input": list(self.default_input),
            "normalize": self.default_normalize,
        }


REGISTRY: dict[str, ModelEntry] = {}


def register(
    name: str,
    family: str,
    description: str,
    task: str | None = None,
    default_input: tuple[int, int, int] = (3, 224, 224),
    default_normalize: str = "per-channel",
) -> Callable[[Builder], Builder]:
    """Add the decorated builder to the zoo as ``name``."""

    def add(build: Builder) -> Builder:
        entry = ModelEntry(name, family, description, build, task, default_input, default_normalize)
        REGISTRY[name] = entry
        return build

    return add


def list_models(pattern: str = "*") -> list[ModelEntry]:
    """Registered networks whose name matches ``pattern`` (shell-style); timm's are not listed."""
    return [e for name, e in sorted(REGISTRY.items()) if fnmatch.fnmatch(name, pattern)]


def default_input(name: str) -> tuple[int, int, int]:
    """The (channels, height, width) network ``name`` was designed for; 3x224x224 for timm's
    and layer files."""
    entry = REGISTRY.get(name)
    return entry.default_input if entry else (3, 224, 224)


@dataclass(frozen=True)
class InputChoice:
    """The (height, width) a run trains at, and why."""

    size: tuple[int, int]
    reason: str

    def line(self) -> str:
        return f"input {self.size[1]}x{self.size[0]}: {self.reason}"


def input_for(
    name: str, images: tuple[int, int], asked: tuple[int, int] | None = None
) -> InputChoice:
    """The input network ``name`` trains at on ``images`` (height, width): ``asked`` (the
    recipe's), else the images' own size, never the network's design input, which for
    small images would only cost time (28x28 images at 224x224: 64x the pixels, no detail
    more)."""
    if asked:
        return InputChoice((asked[0], asked[1]), "the recipe's input_size")
    _, height, width = default_input(name)
    design = f"{name}'s design input, {width}x{height}"
    times = height * width / (images[0] * images[1])
    if times >= 4:
        reason = f"the images' own size; {design}, would be {times:.0f}x their pixels"
    else:
        reason = f"the images' own size ({design})"
    return InputChoice(images, f"{reason}; input_size changes it")


def default_normalize(name: str) -> str:
    """How network ``name`` normalises its inputs unless told otherwise; per-channel for
    timm's and layer files."""
    entry = REGISTRY.get(name)
    return entry.default_normalize if entry else "per-channel"


def model_task(name: str) -> str | None:
    """The name of the task that reads network ``name``'s outputs; None for the default."""
    entry = REGISTRY.get(name)
    return entry.task if entry else None


def build_model(
    name: str,
    num_classes: int,
    in_channels: int = 3,
    input_size: tuple[int, int] = (224, 224),
    **options: Any,
) -> nn.Module:
    """Build network ``name`` for ``in_channels`` x ``input_size`` inputs and ``num_classes``.

    ``options`` go to the network's builder (a detector's ``anchors``).
    """
    if num_classes < 1 or in_channels < 1 or min(input_size) < 1:
        raise ModelError(f"cannot build {name}: classes, channels and input size must be positive")
    if name.startswith(TIMM_PREFIX):
        return _timm(name[len(TIMM_PREFIX) :], num_classes, in_channels)
    if name not in REGISTRY:
        raise ModelError(f"unknown network {name!r}: see `lumos models list`, or use timm:NAME")
    return REGISTRY[name].build(num_classes, in_channels, input_size, **options)


def _timm(name: str, num_classes: int, in_channels: int) -> nn.Module:
    import timm

    if not timm.list_models(name):
        raise ModelError(f"timm has no model named {name!r}")
    return timm.create_model(name, pretrained=False, num_classes=num_classes, in_chans=in_channels)
