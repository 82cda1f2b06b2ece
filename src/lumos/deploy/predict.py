"""Prediction: images in, labels with scores out, preprocessed exactly as in training.

Files are decoded like an import (EXIF rotation, 16-bit, palette, alpha), resized to the
dataset's size by its resize mode, then to the network's input size. A file that cannot be
read gets its own error and the rest are still predicted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from lumos.data.geometry import place_image, placement
from lumos.data.images import from_array, is_image_name, open_image
from lumos.deploy.bundle import Bundle
from lumos.errors import DataError


@dataclass
class Prediction:
    """For one input: the top classes with probabilities, the labels chosen, or the error."""

    source: str
    top: list[tuple[str, float]] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    error: str | None = None

    def as_dict(self) -> dict:
        return {
            "source": self.source,
            "top": [{"label": k, "probability": p} for k, p in self.top],
            "labels": self.labels,
            "error": self.error,
        }


def expand(inputs: Sequence[str | Path | np.ndarray]) -> list[Path | np.ndarray]:
    """Inputs in their order: arrays and files as given, folders as their image files (sorted)."""
    expanded: list[Path | np.ndarray] = []
    for entry in inputs:
        if isinstance(entry, np.ndarray):
            expanded.append(entry)
        elif Path(entry).is_dir():
            expanded.extend(
                sorted(p for p in Path(entry).rglob("*") if p.is_file() and is_image_name(p))
            )
        else:
            expanded.append(Path(entry))
    return expanded


def preprocess(source: Path | np.ndarray, bundle: Bundle) -> np.ndarray:
    """One input as the (H, W, C) uint8 array training saw."""
    pre = bundle.preprocessing
    height, width = pre["size"]
    if isinstance(source, np.ndarray):
        image = from_array(source, pre["channels"])
        full = image.size
    else:
        if not source.is_file():
            raise DataError(source, "no such file")
        image, full = open_image(source, channels=pre["channels"], draft_size=(width, height))
    pixels = place_image(image, placement(full, (width, height), pre["resize_mode"]), (0, 0))
    return pixels if pixels.ndim == 3 else pixels[:, :, None]


def network_input(arrays: Sequence[np.ndarray], bundle: Bundle) -> torch.Tensor:
    """Preprocessed (H, W, C) uint8 images as the network's float batch at its input size."""
    images = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float().div_(255)
    input_size = tuple(bundle.preprocessing["input_size"])
    if tuple(images.shape[2:]) != input_size:
        images = F.interpolate(images, size=input_size, mode="bilinear", antialias=True)
    return images


@torch.no_grad()
def predict(
    bundle: Bundle,
    inputs: Sequence[str | Path | np.ndarray],
    *,
    top: int = 5,
    batch_size: int = 64,
    device: str = "cpu",
    trust_code: bool = False,
) -> list[Prediction]:
    """Predict every input; unreadable ones carry an error instead of scores."""
    model = bundle.model(device, trust_code=trust_code)
    labels = bundle.labels
    thresholds = torch.tensor(bundle.meta.get("thresholds") or [0.5] * len(labels))
    results: list[Prediction] = []
    for start in range(0, len(inputs), batch_size):
        chunk = inputs[start : start + batch_size]
        ready, arrays = [], []
        for item in chunk:
            name = "array" if isinstance(item, np.ndarray) else str(item)
            prediction = Prediction(name)
            results.append(prediction)
            try:
                arrays.append(
                    preprocess(item if isinstance(item, np.ndarray) else Path(item), bundle)
                )
                ready.append(prediction)
            except DataError as e:
                prediction.error = e.reason
        if not arrays:
            continue
        logits = model(network_input(arrays, bundle).to(device)).float().cpu()
        probabilities = (
            torch.sigmoid(logits) if bundle.multi_label else torch.softmax(logits, dim=1)
        )
        for prediction, row in zip(ready, probabilities, strict=True):
            values, indices = row.topk(min(top, len(labels)))
            prediction.top = [(labels[i], float(v)) for v, i in zip(values, indices, strict=True)]
            if bundle.multi_label:
                prediction.labels = [
                    labels[i] for i in torch.nonzero(row >= thresholds).flatten().tolist()
                ]
            else:
                prediction.labels = [labels[int(indices[0])]]
    return results
