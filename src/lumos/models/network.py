"""A network as data: what to build, for which input and how many classes.

A :class:`NetworkSpec` is what a bundle stores to rebuild its network without code: a zoo
name (``resnet18``, ``timm:convnext_atto``) or a YAML layer list copied into the spec.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict
from torch import nn

from lumos.models.custom import build_layers, load_layers
from lumos.models.zoo import build_model

CUSTOM = "custom"


class NetworkSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    num_classes: int
    in_channels: int
    input_size: tuple[int, int]  # (height, width)
    layers: list[Any] | None = None  # for name == "custom"

    @classmethod
    def resolve(
        cls, network: str, num_classes: int, in_channels: int, input_size: tuple[int, int]
    ) -> NetworkSpec:
        """A spec for a zoo name, or for a YAML layer file (its layers copied in)."""
        if network.endswith((".yaml", ".yml")):
            layers = load_layers(Path(network))
            return cls(
                name=CUSTOM,
                num_classes=num_classes,
                in_channels=in_channels,
                input_size=input_size,
                layers=layers,
            )
        return cls(
            name=network, num_classes=num_classes, in_channels=in_channels, input_size=input_size
        )


def build_network(spec: NetworkSpec) -> nn.Module:
    """Build the network a spec describes (fresh weights)."""
    if spec.name == CUSTOM:
        return build_layers(spec.layers or [], spec.num_classes, spec.in_channels, spec.input_size)
    return build_model(spec.name, spec.num_classes, spec.in_channels, spec.input_size)
