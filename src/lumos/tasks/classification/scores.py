"""Running a network over a dataset split: class probabilities next to the truth."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from lumos.data import Dataset
from lumos.data.loader import BatchLoader, at_size


@torch.no_grad()
def model_scores(
    model: Callable[[torch.Tensor], torch.Tensor],
    dataset: Dataset,
    input_size: tuple[int, int],
    *,
    multi_label: bool,
    batch_size: int = 128,
) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities (N, K), labels) of ``model`` on every record of ``dataset``, in order.

    ``model`` is a network (put in eval mode) or any function from a float batch to logits,
    such as a :class:`~lumos.deploy.runtime.Predictor` on another backend."""
    if isinstance(model, torch.nn.Module):
        model.eval()
    outputs = []
    for images, _ in BatchLoader(dataset, batch_size, workers=1):
        logits = model(at_size(images, input_size)).float()
        outputs.append(torch.sigmoid(logits) if multi_label else torch.softmax(logits, dim=1))
    return torch.cat(outputs).numpy(), np.asarray(dataset.labels())
