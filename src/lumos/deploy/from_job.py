"""Turning a finished training job into a bundle."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from lumos.data import Dataset
from lumos.deploy.bundle import BundleError, save_bundle
from lumos.jobs import open_job
from lumos.models import NetworkSpec
from lumos.models.zoo import model_task
from lumos.train.callbacks import BEST, LAST, METRICS, read_metrics
from lumos.train.checkpoints import load_checkpoint, load_weights
from lumos.train.recipe import Recipe
from lumos.workspace import Workspace


def bundle_from_job(
    job_id: str, name: str, *, workspace: Workspace | None = None, overwrite: bool = False
) -> Path:
    """Save the best weights of training job ``job_id`` as model ``name``."""
    workspace = (workspace or Workspace()).ensure()
    job = open_job(workspace, job_id)
    if job.kind != "train":
        raise BundleError(f"job {job_id} is a {job.kind} job, not a training job")
    folder = job.folder / "checkpoints"
    if (folder / BEST).is_file():
        weights = load_weights(folder / BEST)
    elif (folder / LAST).is_file():
        weights = load_checkpoint(folder / LAST)["model"]
    else:
        raise BundleError(f"job {job_id} has no checkpoint yet")
    recipe = Recipe.load(job.folder / "recipe.yaml")
    task = model_task(recipe.network)
    spec = NetworkSpec.model_validate_json((job.folder / "network.json").read_text())
    dataset = Dataset.open(recipe.dataset, workspace)
    epochs = [r for r in read_metrics(job.folder / METRICS) if r["kind"] == "epoch"]
    best = [r for r in epochs if r.get("best")] or epochs
    meta = {
        "task": task,
        "network": spec.model_dump(mode="json"),
        # Segmenters and detectors output the background (0) and then the classes.
        "labels": dataset.classes if task == "classification" else ["background", *dataset.classes],
        "multi_label": dataset.multi_label and task == "classification",
        "preprocessing": {
            "size": list(dataset.size),
            "input_size": list(spec.input_size),
            "channels": dataset.channels,
            "resize_mode": dataset.manifest["resize_mode"],
            "normalize": recipe.normalize,
            "mean": dataset.mean,
            "std": dataset.std,
        },
        "recipe": recipe.model_dump(mode="json"),
        "metrics": {k: v for k, v in best[-1].items() if k != "best"} if best else {},
        "provenance": {
            "dataset": dataset.name,
            "fingerprint": dataset.manifest["fingerprint"],
            "job": job.id,
        },
    }
    if meta["multi_label"]:
        meta["thresholds"] = _tuned_thresholds(spec, weights, dataset)
    return save_bundle(name, meta=meta, weights=weights, workspace=workspace, overwrite=overwrite)


def _tuned_thresholds(
    spec: NetworkSpec, weights: dict[str, torch.Tensor], dataset: Dataset
) -> list[float]:
    """Per class, the probability threshold with the best F1 on the validation split."""
    from lumos.evaluate.scores import split_scores

    probabilities, truth = split_scores(spec, weights, dataset.split("val"))
    candidates = np.linspace(0.05, 0.95, 19)
    thresholds = []
    for c in range(truth.shape[1]):
        f1 = [_f1(probabilities[:, c] >= t, truth[:, c] > 0) for t in candidates]
        thresholds.append(float(candidates[int(np.argmax(f1))]))
    return thresholds


def _f1(predicted: np.ndarray, actual: np.ndarray) -> float:
    tp = float((predicted & actual).sum())
    return (
        2
        * tp
        / max(2 * tp + float((predicted & ~actual).sum()) + float((~predicted & actual).sum()), 1)
    )
