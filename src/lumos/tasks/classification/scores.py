"""Running a classifier's graph over a dataset split: class probabilities next to the truth."""

from __future__ import annotations

import numpy as np

from lumos.data import Dataset
from lumos.data.loader import BatchLoader, at_size
from lumos.tasks.base import GraphRun, TrainedModel
from lumos.tasks.classification.result import probabilities


def graph_scores(
    bundle: TrainedModel, run: GraphRun, part: Dataset, *, batch_size: int = 128
) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities (N, K), labels) of a classifier's graph (``run``: PyTorch's or an
    export's, :class:`~lumos.tasks.predictor.Predictor`'s outputs) on every record of
    ``part``, in order."""
    scores = []
    for images, _ in BatchLoader(part, batch_size, workers=1):
        logits = run(at_size(images, bundle.preprocessing.input_size).numpy())[0]
        scores.append(probabilities(logits, bundle.multi_label))
    return np.concatenate(scores), np.asarray(part.labels())
