"""A network as data: what to build, for which input and how many classes.

A :class:`NetworkSpec` is what a bundle stores to rebuild its network: a zoo name
(``resnet18``, ``timm:convnext_atto``), a YAML layer list copied into the spec, or the source
of a Python file defining ``build(num_classes, in_channels, input_size)``. Building from
Python source runs that code, so it needs ``trust_code=True`` unless the user just named the
file themselves.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict
from torch import nn

from lumos.models.custom import build_layers, load_layers
from lumos.models.zoo import ModelError, build_model

CUSTOM = "custom"
PYTHON = "python"


class UntrustedCodeError(ModelError):
    """A network defined by Python code that the caller did not agree to run."""


class NetworkSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    num_classes: int
    in_channels: int
    input_size: tuple[int, int]  # (height, width)
    layers: list[Any] | None = None  # for name == "custom"
    source: str | None = None  # for name == "python": the file's text
    options: dict[str, Any] = {}  # builder options of a zoo network (a detector's anchors)

    @classmethod
    def resolve(
        cls,
        network: str,
        num_classes: int,
        in_channels: int,
        input_size: tuple[int, int],
        **options: Any,
    ) -> NetworkSpec:
        """A spec for a zoo name, a YAML layer file or a Python file (their text copied in)."""
        shape = {"num_classes": num_classes, "in_channels": in_channels, "input_size": input_size}
        if network.endswith((".yaml", ".yml")):
            return cls(name=CUSTOM, layers=load_layers(Path(network)), **shape)
        if network.endswith(".py"):
            try:
                source = Path(network).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as e:
                raise ModelError(f"{network}: cannot read network: {e}") from None
            return cls(name=PYTHON, source=source, **shape)
        return cls(name=network, options=options, **shape)


def build_network(spec: NetworkSpec, *, trust_code: bool = True) -> nn.Module:
    """Build the network a spec describes (fresh weights).

    Python-source specs run their code: callers building from a file someone else made
    (a bundle) pass ``trust_code=False`` to refuse that.
    """
    if spec.name == CUSTOM:
        return build_layers(spec.layers or [], spec.num_classes, spec.in_channels, spec.input_size)
    if spec.name == PYTHON:
        if not trust_code:
            raise UntrustedCodeError(
                "this network is Python code; load it only if you trust its author (--trust-code)"
            )
        return _build_python(spec)
    return build_model(
        spec.name, spec.num_classes, spec.in_channels, spec.input_size, **spec.options
    )


def _build_python(spec: NetworkSpec) -> nn.Module:
    namespace: dict[str, Any] = {"__name__": "lumos_user_network"}
    try:
        exec(compile(spec.source or "", "<network.py>", "exec"), namespace)
    except Exception as e:  # the user's file may fail in any way
        raise ModelError(f"network.py failed to run: {type(e).__name__}: {e}") from None
    build = namespace.get("build")
    if not callable(build):
        raise ModelError("network.py must define build(num_classes, in_channels, input_size)")
    model = build(spec.num_classes, spec.in_channels, tuple(spec.input_size))
    if not isinstance(model, nn.Module):
        raise ModelError(
            f"network.py build() returned {type(model).__name__}, not a torch.nn.Module"
        )
    return model
