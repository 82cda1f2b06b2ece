"""A classifier's answer for one input: its top classes, the labels chosen, or its error."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from lumos.data.images import open_image
from lumos.tasks.base import TrainedModel


@dataclass
class Prediction:
    """For one input: the top classes with probabilities, the labels chosen, or the error."""

    source: str
    top: list[tuple[str, float]] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "top": [{"label": k, "probability": p} for k, p in self.top],
            "labels": self.labels,
            "error": self.error,
        }

    def served(self) -> dict[str, Any]:
        """What a server answers: :meth:`as_dict`."""
        return self.as_dict()

    def describe(self) -> str:
        """For a terminal: the source, the labels chosen where they are not simply the
        best class, and the top classes."""
        lines = [self.source]
        if len(self.labels) > 1 or (self.labels and self.labels[0] != self.top[0][0]):
            lines.append(f"  labels: {', '.join(self.labels)}")
        lines += [f"  {label}  {p:.2%}" for label, p in self.top]
        return "\n".join(lines)

    def display(self) -> list[dict[str, Any]]:
        """What a page shows: each class shown with its probability."""
        return [{"label": label, "value": p} for label, p in self.top]

    def rows(self) -> list[dict[str, Any]]:
        """CSV rows: one per class shown, then one for an error."""
        rows: list[dict[str, Any]] = [
            {"source": self.source, "rank": rank, "label": label, "probability": f"{p:.6f}"}
            for rank, (label, p) in enumerate(self.top, 1)
        ]
        if self.error:
            rows.append({"source": self.source, "error": self.error})
        return rows

    def draw(self, image: Path | np.ndarray, out: Path) -> Path:
        """The image itself: a classifier's answer is its text."""
        if isinstance(image, np.ndarray):
            Image.fromarray(image.squeeze()).convert("RGB").save(out)
        else:
            open_image(image, channels=3)[0].save(out)
        return out


def probabilities(logits: np.ndarray, multi_label: bool) -> np.ndarray:
    scores = torch.from_numpy(np.asarray(logits, dtype=np.float32))
    return (torch.sigmoid(scores) if multi_label else torch.softmax(scores, 1)).numpy()


def answer(bundle: TrainedModel, source: str, scores: np.ndarray, top: int = 5) -> Prediction:
    """One input's :class:`Prediction` from its row of probabilities: the best class, or
    for multi-label models every class at or above its tuned threshold."""
    labels = bundle.labels
    order = np.argsort(-scores, kind="stable")[: min(top, len(labels))]
    prediction = Prediction(source, top=[(labels[i], float(scores[i])) for i in order])
    if bundle.multi_label:
        thresholds = np.asarray(bundle.thresholds)
        prediction.labels = [labels[i] for i in np.flatnonzero(scores >= thresholds)]
    else:
        prediction.labels = [labels[int(order[0])]]
    return prediction
