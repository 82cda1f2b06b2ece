"""Classification metrics of a bundle on a dataset split.

Top-1/top-5 accuracy, per-class precision/recall/F1, the confusion matrix and its most
confused pairs, the highest-loss records, and calibration (expected calibration error);
for multi-label data, mAP and micro/macro F1 at the bundle's thresholds.
"""

from __future__ import annotations

import itertools

import numpy as np

from lumos.data import Dataset
from lumos.tasks.base import TrainedModel
from lumos.tasks.classification.scores import graph_scores
from lumos.tasks.predictor import Predictor
from lumos.tasks.report import Report

ECE_BINS = 15


def evaluate(
    bundle: TrainedModel,
    part: Dataset,
    split: str,
    *,
    top_losses: int = 16,
    trust_code: bool = False,
) -> Report:
    """Score ``bundle`` on ``part``, the ``split`` of a dataset."""
    probabilities, labels = graph_scores(
        bundle, Predictor(bundle, trust_code=trust_code).outputs, part
    )
    if bundle.multi_label:
        thresholds = np.asarray(bundle.thresholds)
        return _multi_label(bundle, part.name, split, probabilities, labels, thresholds)
    return _single_label(bundle, part, part.name, split, probabilities, labels, top_losses)


def _single_label(
    bundle: TrainedModel,
    part: Dataset,
    name: str,
    split: str,
    probabilities: np.ndarray,
    labels: np.ndarray,
    k: int,
) -> Report:
    classes = bundle.labels
    predicted = probabilities.argmax(1)
    ranked = np.argsort(-probabilities, axis=1)[:, :5]
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support  # slow to load

    precision, recall, f1, support = precision_recall_fscore_support(
        labels, predicted, labels=range(len(classes)), zero_division=0
    )
    matrix = confusion_matrix(labels, predicted, labels=range(len(classes)))
    off = matrix.copy()
    np.fill_diagonal(off, 0)
    pairs = [
        (classes[t], classes[p], int(off[t, p]))
        for t, p in zip(*np.unravel_index(np.argsort(-off, axis=None), off.shape), strict=True)
        if off[t, p] > 0
    ][:10]
    losses = -np.log(np.clip(probabilities[np.arange(len(labels)), labels], 1e-12, None))
    worst = np.argsort(-losses)[:k]
    calibration, ece = _calibration(probabilities.max(1), predicted == labels)
    metrics = {
        "top1": float((predicted == labels).mean()),
        "top5": float((ranked == labels[:, None]).any(1).mean()),
        "loss": float(losses.mean()),
        "ece": ece,
        "macro_f1": float(f1.mean()),
        "records": len(labels),
    }
    per_class = [
        {"class": c, "precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
        for c, p, r, f, s in zip(classes, precision, recall, f1, support, strict=True)
    ]
    return Report(
        name,
        split,
        classes,
        metrics,
        per_class,
        matrix,
        pairs,
        [(int(part.indices[i]), float(losses[i]), classes[predicted[i]]) for i in worst],
        calibration,
    )


def _multi_label(
    bundle: TrainedModel,
    name: str,
    split: str,
    probabilities: np.ndarray,
    labels: np.ndarray,
    thresholds: np.ndarray,
) -> Report:
    from sklearn.metrics import average_precision_score, precision_recall_fscore_support

    classes = bundle.labels
    predicted = probabilities >= thresholds
    truth = labels > 0
    precision, recall, f1, support = precision_recall_fscore_support(
        truth, predicted, zero_division=0
    )
    micro = precision_recall_fscore_support(truth, predicted, average="micro", zero_division=0)
    present = truth.any(0)
    average_precision = [
        float(average_precision_score(truth[:, c], probabilities[:, c]))
        if present[c]
        else float("nan")
        for c in range(len(classes))
    ]
    metrics = {
        "map": float(np.nanmean(average_precision)) if present.any() else 0.0,
        "micro_f1": float(micro[2]),
        "macro_f1": float(f1.mean()),
        "exact_match": float((predicted == truth).all(1).mean()),
        "records": len(labels),
    }
    per_class = [
        {
            "class": c,
            "precision": float(p),
            "recall": float(r),
            "f1": float(f),
            "ap": ap,
            "threshold": float(t),
            "support": int(s),
        }
        for c, p, r, f, ap, t, s in zip(
            classes, precision, recall, f1, average_precision, thresholds, support, strict=True
        )
    ]
    return Report(name, split, classes, metrics, per_class)


def _calibration(
    confidence: np.ndarray, correct: np.ndarray
) -> tuple[list[tuple[float, float, int]], float]:
    """Reliability bins and the expected calibration error (Guo et al. 2017)."""
    edges = np.linspace(0, 1, ECE_BINS + 1)
    bins, ece = [], 0.0
    for low, high in itertools.pairwise(edges):
        inside = (confidence > low) & (confidence <= high)
        if inside.any():
            mean_conf, accuracy = float(confidence[inside].mean()), float(correct[inside].mean())
            bins.append((mean_conf, accuracy, int(inside.sum())))
            ece += inside.mean() * abs(mean_conf - accuracy)
    return bins, float(ece)


def tuned_thresholds(bundle: TrainedModel, validation: Dataset) -> list[float]:
    """Per class, the probability threshold with the best F1 on ``validation``."""
    probabilities, truth = graph_scores(bundle, Predictor(bundle).outputs, validation)
    candidates = np.linspace(0.05, 0.95, 19)
    thresholds = []
    for c in range(truth.shape[1]):
        f1 = [_f1(probabilities[:, c] >= t, truth[:, c] > 0) for t in candidates]
        thresholds.append(float(candidates[int(np.argmax(f1))]))
    return thresholds


def _f1(predicted: np.ndarray, actual: np.ndarray) -> float:
    tp = float((predicted & actual).sum())
    wrong = float((predicted & ~actual).sum()) + float((~predicted & actual).sum())
    return 2 * tp / max(2 * tp + wrong, 1)
