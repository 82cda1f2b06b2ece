"""A per-layer table of a network: output shape, parameters and FLOPs, and the totals.

Running the network on a zero input also finds the first layer whose input does not fit,
and names it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from lumos.models.registry import ModelError


@dataclass(frozen=True)
class LayerRow:
    name: str
    kind: str
    output_shape: tuple[int, ...]
    params: int
    flops: int


@dataclass
class ModelSummary:
    input_shape: tuple[int, ...]
    rows: list[LayerRow] = field(default_factory=list)
    params: int = 0
    trainable: int = 0
    flops: int = 0  # per image, multiply and add counted separately

    def as_dict(self) -> dict:
        return {
            "input_shape": list(self.input_shape),
            "params": self.params,
            "trainable": self.trainable,
            "flops": self.flops,
            "layers": [
                {
                    "name": r.name,
                    "kind": r.kind,
                    "output_shape": list(r.output_shape),
                    "params": r.params,
                    "flops": r.flops,
                }
                for r in self.rows
            ],
        }


def _leaves(model: nn.Module) -> list[tuple[str, nn.Module]]:
    return [(name, m) for name, m in model.named_modules() if name and not list(m.children())]


def summarize(model: nn.Module, input_shape: tuple[int, int, int]) -> ModelSummary:
    """Run ``model`` once on a (1, C, H, W) zero input and describe each leaf layer."""
    shapes: dict[str, tuple[int, ...]] = {}
    order: list[str] = []
    entered: list[tuple[str, tuple[int, ...]]] = []
    handles = []
    for name, module in _leaves(model):

        def before(_m: nn.Module, args: tuple, *, _name: str = name) -> None:
            first = args[0] if args else None
            entered.append((_name, tuple(first.shape) if isinstance(first, torch.Tensor) else ()))

        def after(_m: nn.Module, _args: tuple, output: object, *, _name: str = name) -> None:
            if _name not in shapes:
                order.append(_name)
            if isinstance(output, torch.Tensor):
                shapes[_name] = tuple(output.shape[1:])

        handles.append(module.register_forward_pre_hook(before))
        handles.append(module.register_forward_hook(after))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(torch.zeros(1, *input_shape))
    except (RuntimeError, ValueError) as e:
        where, shape = entered[-1] if entered else ("input", (1, *input_shape))
        kind = type(model.get_submodule(where)).__name__ if entered else "network"
        reason = str(e).strip().splitlines()[0]
        raise ModelError(
            f"layer {where} ({kind}) does not fit its input of shape {list(shape[1:])}: {reason}"
        ) from None
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    flops = _flops_by_layer(counter, type(model).__name__)
    modules = dict(model.named_modules())
    summary = ModelSummary(input_shape=input_shape)
    for name in order:
        module = modules[name]
        params = sum(p.numel() for p in module.parameters(recurse=False))
        summary.rows.append(
            LayerRow(name, type(module).__name__, shapes.get(name, ()), params, flops.get(name, 0))
        )
    summary.params = sum(p.numel() for p in model.parameters())
    summary.trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    summary.flops = int(counter.get_total_flops())
    return summary


def _flops_by_layer(counter: FlopCounterMode, root: str) -> dict[str, int]:
    counts = {}
    for key, per_op in counter.get_flop_counts().items():
        if key.startswith(root + "."):
            counts[key[len(root) + 1 :]] = int(sum(per_op.values()))
    return counts
