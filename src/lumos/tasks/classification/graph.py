"""A classifier read from its exported graph's logits: answers, tensors and its score."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lumos.data import Dataset
from lumos.tasks.base import GraphRun, Seen, TrainedModel
from lumos.tasks.classification.result import Prediction, answer, probabilities
from lumos.tasks.classification.scores import graph_scores


def graph_answer(
    bundle: TrainedModel, outputs: list[np.ndarray], seen: Seen, top: int
) -> Prediction:
    """One image's :class:`Prediction` from its row of logits."""
    scores = probabilities(outputs[0][None], bundle.multi_label)[0]
    return answer(bundle, seen.source, scores, top)


def failed(bundle: TrainedModel, source: str, reason: str) -> Prediction:
    return Prediction(source, error=reason)


def graph_score(bundle: TrainedModel, run: GraphRun, part: Dataset) -> tuple[str, float]:
    """Top-1 accuracy (mean average precision for multi-label data) of a graph on ``part``."""
    scores, truth = graph_scores(bundle, run, part)
    if bundle.multi_label:
        from sklearn.metrics import average_precision_score

        return "mAP", float(average_precision_score(truth, scores, average="macro"))
    return "top-1 accuracy", float((scores.argmax(1) == truth).mean())


def tensors(bundle: TrainedModel, results: Sequence[Prediction]) -> dict[str, np.ndarray]:
    """``probabilities`` (N, K) in the bundle's label order, from answers that list every
    class, and ``labels`` (N,), each image's best class."""
    index = {label: k for k, label in enumerate(bundle.labels)}
    scores = np.zeros((len(results), len(index)), dtype=np.float32)
    for row, result in zip(scores, results, strict=True):
        for label, probability in result.top:
            row[index[label]] = probability
    best = [result.top[0][0].encode() for result in results]
    return {"probabilities": scores, "labels": np.array(best, dtype=object)}


def tensor_specs(bundle: TrainedModel) -> list[tuple[str, str, list[int]]]:
    return [("probabilities", "FP32", [-1, len(bundle.labels)]), ("labels", "BYTES", [-1])]
