"""Transferability estimators: how well a source model's features (and its predictions)
suit a target's labels, from one forward pass, before any fine-tuning.

Each is a small function of the target's features ``(n, d)``, its labels ``(n,)`` and,
for LEEP and NLEEP, the source model's class probabilities ``(n, k)``; P2L instead compares
the target's data with the source's training data in one reference network's feature
space. Higher is better in every one, so they can be ranked and combined alike.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linprog
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.mixture import GaussianMixture
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

EPSILON = 1e-5


def logme(features: np.ndarray, labels: np.ndarray, iterations: int = 11) -> float:
    """LogME (You et al. 2021): the log marginal evidence per sample of a Bayesian linear
    model from the features to each class's one-hot target, averaged over classes.

    Computed from the thin SVD of the features, so fewer samples than feature dimensions
    (n < d) cost an n-sized problem; the d - n zero eigenvalues still count in the evidence.
    """
    f = np.asarray(features, dtype=np.float64)
    n, d = f.shape
    u, s, _ = np.linalg.svd(f, full_matrices=False)
    sigma = s**2  # the non-zero part of the eigenvalues of F^T F
    zeros = d - len(sigma)
    evidences = []
    for k in np.unique(labels):
        y = (labels == k).astype(np.float64)
        z = u.T @ y
        outside = max(float(y @ y - z @ z), 0.0)  # the part of y no feature direction explains
        alpha, beta = 1.0, 1.0
        for _ in range(iterations):
            shrink = alpha + beta * sigma
            gamma = float((beta * sigma / shrink).sum())
            weights_sq = float(((beta * s * z / shrink) ** 2).sum())  # |m|^2
            residual = outside + float(((alpha * z / shrink) ** 2).sum())  # |y - F m|^2
            new_alpha = gamma / (weights_sq + EPSILON)
            new_beta = (n - gamma) / (residual + EPSILON)
            converged = abs(new_alpha / new_beta - alpha / beta) / (alpha / beta) < 0.01
            alpha, beta = new_alpha, new_beta
            if converged:
                break
        shrink = alpha + beta * sigma
        weights_sq = float(((beta * s * z / shrink) ** 2).sum())
        residual = outside + float(((alpha * z / shrink) ** 2).sum())
        evidence = (
            d / 2 * np.log(alpha)
            + n / 2 * np.log(beta)
            - 0.5 * (np.log(shrink).sum() + zeros * np.log(alpha))
            - beta / 2 * residual
            - alpha / 2 * weights_sq
            - n / 2 * np.log(2 * np.pi)
        )
        evidences.append(evidence / n)
    return float(np.mean(evidences))


def leep(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """LEEP (Nguyen et al. 2020): the mean log-likelihood of the target labels under the
    source's predictions passed through the empirical conditional P(target | source)."""
    p = np.asarray(probabilities, dtype=np.float64)
    classes = np.unique(labels)
    joint = np.stack([p[labels == c].sum(0) for c in classes]) / len(labels)  # (targets, k)
    conditional = joint / np.maximum(joint.sum(0, keepdims=True), EPSILON)
    expected = p @ conditional.T  # (n, targets)
    chosen = expected[np.arange(len(labels)), np.searchsorted(classes, labels)]
    return float(np.log(np.maximum(chosen, EPSILON)).mean())


def nleep(features: np.ndarray, labels: np.ndarray, components: int = 0, seed: int = 0) -> float:
    """NLEEP (Li et al. 2021): LEEP with a Gaussian mixture over the (PCA-reduced) features
    as the source's classes; ``components`` defaults to five per target class."""
    reduced = _reduced(features)
    count = components or 5 * len(np.unique(labels))
    count = max(1, min(count, len(reduced) // 2))
    mixture = GaussianMixture(count, covariance_type="diag", random_state=seed, reg_covar=1e-4)
    return leep(mixture.fit(reduced).predict_proba(reduced), labels)


def knn_accuracy(features: np.ndarray, labels: np.ndarray, k: int = 5) -> float:
    """Leave-one-out accuracy of a k-nearest-neighbour vote (cosine similarity)."""
    f = _unit(features)
    similarity = f @ f.T
    np.fill_diagonal(similarity, -np.inf)  # leave each sample out of its own vote
    k = min(k, len(f) - 1)
    nearest = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
    votes = labels[nearest]
    predicted = np.array([np.bincount(row).argmax() for row in votes])
    return float((predicted == labels).mean())


def gbc(features: np.ndarray, labels: np.ndarray) -> float:
    """GBC (Pándy et al. 2022): minus the summed Bhattacharyya overlap of per-class diagonal
    Gaussians in a PCA space; classes that overlap less score higher (at most 0)."""
    reduced = _reduced(features)
    classes = np.unique(labels)
    means = [reduced[labels == c].mean(0) for c in classes]
    variances = [reduced[labels == c].var(0) + EPSILON for c in classes]
    total = 0.0
    for i in range(len(classes)):
        for j in range(len(classes)):
            if i != j:
                shared = (variances[i] + variances[j]) / 2
                gap = means[i] - means[j]
                distance = 0.125 * float((gap**2 / shared).sum()) + 0.5 * float(
                    (np.log(shared) - 0.5 * (np.log(variances[i]) + np.log(variances[j]))).sum()
                )
                total += np.exp(-distance)
    return -total


def linear_probe_accuracy(features: np.ndarray, labels: np.ndarray, folds: int = 3) -> float:
    """Cross-validated accuracy of a logistic regression on the standardised features."""
    smallest = int(np.bincount(np.searchsorted(np.unique(labels), labels)).min())
    folds = max(2, min(folds, smallest))
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=200))
    splits = StratifiedKFold(folds, shuffle=True, random_state=0)
    return float(cross_val_score(model, features, labels, cv=splits).mean())


def domain_similarity(
    target: np.ndarray,
    target_weights: np.ndarray,
    source: np.ndarray,
    source_weights: np.ndarray,
    scale: float = 0.05,
) -> float:
    """How close two datasets lie in one feature space (Cui et al. 2018, as P2L uses it):
    exp(-EMD / ``scale``), the earth mover's distance between their class means (rows,
    weighted by their images) with cost 1 - cosine similarity. 1 for the same data."""
    a, b = _unit(target), _unit(source)
    cost = np.clip(1.0 - a @ b.T, 0.0, 2.0)
    m, n = cost.shape
    supply = np.asarray(target_weights, dtype=np.float64) / np.sum(target_weights)
    demand = np.asarray(source_weights, dtype=np.float64) / np.sum(source_weights)
    rows = np.kron(np.eye(m), np.ones((1, n)))  # flow out of each target mean
    columns = np.kron(np.ones((1, m)), np.eye(n))  # flow into each source mean
    flow = linprog(
        cost.ravel(),
        A_eq=np.vstack([rows, columns]),
        b_eq=np.concatenate([supply, demand]),
        bounds=(0, None),
        method="highs",
    )
    return float(np.exp(-flow.fun / scale))


def p2l(similarity: float, source_images: int) -> float:
    """P2L (Bhattacharjee et al. 2019): the source data's similarity to the target's,
    weighed by the source data's size: ``similarity * log10(1 + images)``."""
    return similarity * float(np.log10(1 + source_images))


def _unit(rows: np.ndarray) -> np.ndarray:
    f = np.asarray(rows, dtype=np.float64)
    return f / np.maximum(np.linalg.norm(f, axis=1, keepdims=True), EPSILON)


def _reduced(features: np.ndarray, dimensions: int = 64) -> np.ndarray:
    f = np.asarray(features, dtype=np.float64)
    keep = min(dimensions, f.shape[1], len(f) - 1)
    return PCA(keep, svd_solver="full").fit_transform(f) if keep < f.shape[1] else f
