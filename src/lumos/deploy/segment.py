"""Prediction with a segmentation bundle: a class-index mask per image, and a colour overlay.

Images are preprocessed exactly as for classification (see :func:`lumos.deploy.predict.
preprocess`); masks come out at the network's input size, value 0 the background and
``k`` the k-th entry of the bundle's labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from lumos.data.show import palette
from lumos.deploy.bundle import Bundle
from lumos.deploy.predict import network_input, preprocess
from lumos.errors import DataError


@dataclass
class MaskPrediction:
    source: str
    image: np.ndarray | None = None  # (H, W, C) uint8 as the network saw it
    mask: np.ndarray | None = None  # (H, W) uint8 class indices
    error: str | None = None

    def shares(self, labels: list[str]) -> dict[str, float]:
        """The share of pixels given to each label."""
        assert self.mask is not None
        counts = np.bincount(self.mask.ravel(), minlength=len(labels))
        return {
            label: float(n / self.mask.size) for label, n in zip(labels, counts, strict=True) if n
        }


@torch.no_grad()
def segment(
    bundle: Bundle, inputs: Sequence[Path | np.ndarray], *, trust_code: bool = False
) -> list[MaskPrediction]:
    """A mask for every input; unreadable ones carry an error."""
    model = bundle.model(trust_code=trust_code)
    results = []
    for item in inputs:
        prediction = MaskPrediction("array" if isinstance(item, np.ndarray) else str(item))
        results.append(prediction)
        try:
            pixels = preprocess(item if isinstance(item, np.ndarray) else Path(item), bundle)
        except DataError as e:
            prediction.error = e.reason
            continue
        image = network_input([pixels], bundle)
        prediction.image = (image[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        prediction.mask = model(image).float().argmax(1)[0].numpy().astype(np.uint8)
    return results


def save_mask_outputs(
    prediction: MaskPrediction, labels: list[str], folder: Path, stem: str
) -> list[Path]:
    """``<stem>-mask.png`` (class indices) and ``<stem>-overlay.png`` (colours over the image)."""
    assert prediction.mask is not None and prediction.image is not None
    folder.mkdir(parents=True, exist_ok=True)
    mask_path, overlay_path = folder / f"{stem}-mask.png", folder / f"{stem}-overlay.png"
    Image.fromarray(prediction.mask).save(mask_path)
    pixels = (
        prediction.image
        if prediction.image.shape[2] == 3
        else np.repeat(prediction.image, 3, axis=2)
    )
    overlay = pixels.astype(np.float32)
    colours = palette(len(labels))
    for value in np.unique(prediction.mask):
        if value > 0:
            region = prediction.mask == value
            overlay[region] = 0.5 * overlay[region] + 0.5 * np.array(colours[value - 1])
    Image.fromarray(overlay.astype(np.uint8)).save(overlay_path)
    return [mask_path, overlay_path]
