"""A classifier's answer for one input, and predicting many inputs in batches.

The batching loop is shared by every backend (PyTorch here, ONNX Runtime in
:mod:`lumos.deploy.runtime`): a backend only turns a float batch into logits. A file that
cannot be read gets its own error and the rest are still predicted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from lumos.data.images import open_image
from lumos.errors import DataError
from lumos.tasks.base import TrainedModel
from lumos.tasks.inputs import network_input, preprocess

Logits = Callable[[np.ndarray], np.ndarray]  # a float (N, C, H, W) batch to (N, K) logits


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


def predict_batches(
    bundle: TrainedModel,
    logits: Logits,
    inputs: Sequence[str | Path | np.ndarray],
    *,
    top: int = 5,
    batch_size: int = 64,
) -> list[Prediction]:
    """Predict files or arrays with ``logits``; unreadable ones carry an error."""
    results: list[Prediction] = []
    for start in range(0, len(inputs), batch_size):
        ready: list[tuple[int, np.ndarray]] = []
        for item in inputs[start : start + batch_size]:
            results.append(Prediction("array" if isinstance(item, np.ndarray) else str(item)))
            try:
                image = preprocess(item if isinstance(item, np.ndarray) else Path(item), bundle)
                ready.append((len(results) - 1, image))
            except DataError as e:
                results[-1].error = e.reason
        if ready:
            batch = network_input([image for _, image in ready], bundle).numpy()
            scores = probabilities(logits(batch), bundle.multi_label)
            for (position, _), row in zip(ready, scores, strict=True):
                results[position] = answer(bundle, results[position].source, row, top)
    return results


def torch_logits(model: torch.nn.Module, device: str | torch.device = "cpu") -> Logits:
    """A PyTorch network as a :data:`Logits` function."""

    def run(batch: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return model(torch.from_numpy(batch).to(device)).float().cpu().numpy()

    return run
