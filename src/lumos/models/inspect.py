"""DIGITS' "visualizations and statistics": each layer's weights and activations for one
input, as pictures with their mean, standard deviation and histogram."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

from lumos.models.hooks import this_thread_only

MAX_MAPS = 32  # channels shown per layer
BINS = 30


@dataclass
class TensorView:
    """A tensor as a picture, with its statistics."""

    picture: Image.Image
    mean: float
    std: float
    histogram: dict[str, list[float]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"mean": self.mean, "std": self.std, "histogram": self.histogram}


@dataclass
class LayerView:
    name: str
    kind: str
    output_shape: list[int]
    activations: TensorView
    weights: TensorView | None


def _stats(values: torch.Tensor) -> tuple[float, float, dict[str, list[float]]]:
    flat = values.detach().float().flatten().cpu().numpy()
    counts, edges = np.histogram(flat, bins=BINS)
    return (
        float(flat.mean()),
        float(flat.std()),
        {"counts": counts.tolist(), "edges": edges.tolist()},
    )


def _normalised(values: np.ndarray) -> np.ndarray:
    low, high = values.min(), values.max()
    return ((values - low) / (high - low if high > low else 1) * 255).astype(np.uint8)


def _tiles(maps: np.ndarray, side: int = 48) -> Image.Image:
    """(N, H, W) maps, each scaled to its own range, in a grid of ``side``-pixel tiles."""
    count = len(maps)
    columns = int(np.ceil(np.sqrt(count)))
    rows = int(np.ceil(count / columns))
    sheet = Image.new("L", (columns * (side + 2), rows * (side + 2)), 40)
    for i, values in enumerate(maps):
        tile = Image.fromarray(_normalised(values)).resize((side, side), Image.Resampling.NEAREST)
        sheet.paste(tile, ((i % columns) * (side + 2), (i // columns) * (side + 2)))
    return sheet


def _picture(values: torch.Tensor) -> Image.Image:
    """Feature maps as a grid; a vector as a strip; RGB filters in colour."""
    array = values.detach().float().cpu().numpy()
    if array.ndim == 4 and array.shape[1] == 3:  # first convolution on colour images
        filters = array[:MAX_MAPS]
        columns = int(np.ceil(np.sqrt(len(filters))))
        rows = int(np.ceil(len(filters) / columns))
        sheet = Image.new("RGB", (columns * 50, rows * 50), (40, 40, 40))
        for i, f in enumerate(filters):
            tile = Image.fromarray(_normalised(f.transpose(1, 2, 0))).resize(
                (48, 48), Image.Resampling.NEAREST
            )
            sheet.paste(tile, ((i % columns) * 50, (i // columns) * 50))
        return sheet
    if array.ndim == 4:  # other convolutions: each filter's first input channel
        return _tiles(array[:MAX_MAPS, 0])
    if array.ndim == 3:  # activations (C, H, W)
        return _tiles(array[:MAX_MAPS])
    strip = _normalised(array.reshape(1, -1) if array.ndim == 1 else array)
    picture = Image.fromarray(strip)
    width = min(512, max(64, picture.width))
    height = max(8, min(128, round(picture.height * width / max(picture.width, 1))))
    return picture.resize((width, height), Image.Resampling.NEAREST)


def _view(values: torch.Tensor) -> TensorView:
    mean, std, histogram = _stats(values)
    return TensorView(_picture(values), mean, std, histogram)


@torch.no_grad()
def layer_views(model: nn.Module, image: torch.Tensor, max_layers: int = 40) -> list[LayerView]:
    """Run ``image`` (1, C, H, W) through ``model`` and describe its first ``max_layers``
    leaf layers with weights or spatial outputs (other threads may run ``model`` meanwhile)."""
    outputs: dict[str, torch.Tensor] = {}
    handles = []
    leaves = [(name, m) for name, m in model.named_modules() if name and not list(m.children())]
    for name, module in leaves:

        def keep(_m: nn.Module, _args: tuple, output: object, *, _name: str = name) -> None:
            if isinstance(output, torch.Tensor) and _name not in outputs:
                outputs[_name] = output

        handles.append(module.register_forward_hook(this_thread_only(keep)))
    try:
        model.eval()(image)
    finally:
        for handle in handles:
            handle.remove()
    views = []
    for name, module in leaves:
        output = outputs.get(name)
        weight = getattr(module, "weight", None)
        if output is None or (weight is None and output.dim() < 4):
            continue
        views.append(
            LayerView(
                name,
                type(module).__name__,
                list(output.shape[1:]),
                _view(output[0]),
                _view(weight) if isinstance(weight, torch.Tensor) else None,
            )
        )
        if len(views) == max_layers:
            break
    return views
