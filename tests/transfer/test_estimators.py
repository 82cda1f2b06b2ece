"""Transferability estimators: each prefers features that separate the target's classes."""

from __future__ import annotations

import numpy as np
import pytest

from lumos.transfer.estimators import gbc, knn_accuracy, leep, linear_probe_accuracy, logme, nleep


def _data(n: int = 90, d: int = 16, classes: int = 3, spread: float = 0.3, seed: int = 0):
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % classes
    centres = rng.normal(0, 1, (classes, d)) * 3
    good = centres[labels] + rng.normal(0, spread, (n, d))
    noise = rng.normal(0, 1, (n, d))
    return good, noise, labels


@pytest.mark.parametrize(
    "estimator", [logme, nleep, knn_accuracy, gbc, linear_probe_accuracy], ids=lambda f: f.__name__
)
def test_features_that_separate_the_classes_score_higher(estimator) -> None:
    good, noise, labels = _data()
    assert estimator(good, labels) > estimator(noise, labels)


def _logme_reference(features: np.ndarray, labels: np.ndarray) -> float:
    """LogME over the d x d eigen-decomposition of F^T F (as the method was published),
    iterated the same way: the evidence sums all d eigenvalues, zeros included."""
    n, d = features.shape
    sigma, v = np.linalg.eigh(features.T @ features)
    sigma = np.clip(sigma, 0, None)
    out = []
    for k in np.unique(labels):
        y = (labels == k).astype(float)
        projected = v.T @ (features.T @ y)
        alpha, beta = 1.0, 1.0
        for _ in range(11):
            gamma = (beta * sigma / (alpha + beta * sigma)).sum()
            m = v @ (projected * beta / (alpha + beta * sigma))
            new_alpha = gamma / ((m * m).sum() + 1e-5)
            new_beta = (n - gamma) / (((y - features @ m) ** 2).sum() + 1e-5)
            done = abs(new_alpha / new_beta - alpha / beta) / (alpha / beta) < 0.01
            alpha, beta = new_alpha, new_beta
            if done:
                break
        m = v @ (projected * beta / (alpha + beta * sigma))
        evidence = (d / 2 * np.log(alpha) + n / 2 * np.log(beta)
                    - 0.5 * np.log(alpha + beta * sigma).sum()
                    - beta / 2 * ((y - features @ m) ** 2).sum() - alpha / 2 * (m * m).sum()
                    - n / 2 * np.log(2 * np.pi))  # fmt: skip
        out.append(evidence / n)
    return float(np.mean(out))


@pytest.mark.parametrize(("n", "d"), [(60, 8), (12, 40)])  # more samples, then fewer, than dims
def test_logme_from_the_thin_svd_equals_the_d_by_d_formulation(n: int, d: int) -> None:
    features, _, labels = _data(n=n, d=d, spread=1.0, seed=1)
    assert logme(features, labels) == pytest.approx(_logme_reference(features, labels), abs=1e-6)


def test_leep_of_perfect_and_of_uninformative_source_predictions() -> None:
    labels = np.arange(60) % 3
    perfect = np.eye(3)[labels]  # the source already predicts the target's classes
    assert leep(perfect, labels) == pytest.approx(0.0, abs=1e-4)
    uniform = np.full((60, 5), 0.2)  # a source that tells nothing: log of the class prior
    assert leep(uniform, labels) == pytest.approx(np.log(1 / 3), abs=1e-6)
