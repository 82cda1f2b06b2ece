"""Prediction with a segmentation bundle: a class-index mask per image, and a colour overlay.

Images are preprocessed exactly as for classification (see :func:`lumos.tasks.inputs.
preprocess`); masks come out at the network's input size, value 0 the background and
``k`` the k-th entry of the bundle's labels.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from lumos.data.show import palette


@dataclass
class MaskPrediction:
    """For one input: the image as the network saw it and its mask, or the error."""

    source: str
    labels: list[str]  # the model's: the background, then the classes
    image: np.ndarray | None = None  # (H, W, C) uint8 as the network saw it
    mask: np.ndarray | None = None  # (H, W) uint8 class indices
    error: str | None = None

    def shares(self) -> dict[str, float]:
        """The share of pixels given to each label."""
        assert self.mask is not None
        counts = np.bincount(self.mask.ravel(), minlength=len(self.labels))
        return {
            label: float(n / self.mask.size)
            for label, n in zip(self.labels, counts, strict=True)
            if n
        }

    def as_dict(self) -> dict[str, Any]:
        shares = None if self.error else self.shares()
        return {"source": self.source, "shares": shares, "error": self.error}

    def served(self) -> dict[str, Any]:
        """What a server answers: the shares, and the mask (class indices at the network's
        input size) as a base64 PNG."""
        if self.mask is None:
            return self.as_dict()
        buffer = io.BytesIO()
        Image.fromarray(self.mask).save(buffer, format="PNG")
        return self.as_dict() | {"mask_png": base64.b64encode(buffer.getvalue()).decode()}

    def describe(self) -> str:
        """One line for a terminal: the share of each class."""
        if self.error:
            return f"{self.source}: error: {self.error}"
        return f"{self.source}: " + ", ".join(f"{k} {v:.1%}" for k, v in self.shares().items())

    def display(self) -> list[dict[str, Any]]:
        """What a page shows: each class with its share of the pixels."""
        return [{"label": label, "value": share} for label, share in self.shares().items()]

    def rows(self) -> list[dict[str, Any]]:
        """CSV rows: the share of each class, or the error."""
        if self.error:
            return [{"source": self.source, "error": self.error}]
        return [
            {"source": self.source, "label": label, "share": f"{share:.6f}"}
            for label, share in self.shares().items()
        ]

    def draw(self, source: Path | np.ndarray, out: Path) -> Path:
        """The mask's colours over the image as the network saw it, as PNG."""
        assert self.mask is not None and self.image is not None
        pixels = self.image if self.image.shape[2] == 3 else np.repeat(self.image, 3, axis=2)
        overlay = pixels.astype(np.float32)
        colours = palette(len(self.labels))
        for value in np.unique(self.mask):
            if value > 0:
                region = self.mask == value
                overlay[region] = 0.5 * overlay[region] + 0.5 * np.array(colours[value - 1])
        Image.fromarray(overlay.astype(np.uint8)).save(out)
        return out


def save_mask_outputs(prediction: MaskPrediction, folder: Path, stem: str) -> list[Path]:
    """``<stem>-mask.png`` (class indices) and ``<stem>-overlay.png`` (colours over the image)."""
    assert prediction.mask is not None
    folder.mkdir(parents=True, exist_ok=True)
    mask_path = folder / f"{stem}-mask.png"
    Image.fromarray(prediction.mask).save(mask_path)
    return [mask_path, prediction.draw(Path(prediction.source), folder / f"{stem}-overlay.png")]
