"""Turning a finished training job into a bundle."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from lumos.data import Dataset
from lumos.deploy.bundle import Bundle, BundleError, save_bundle
from lumos.errors import LumosError
from lumos.fileio import load_json
from lumos.jobs import open_job
from lumos.models import NetworkSpec
from lumos.models.zoo import model_task
from lumos.train.callbacks import BEST, LAST, METRICS, TRAINED_ON, read_metrics
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
    data = _trained_on(job.folder, recipe.dataset, workspace)
    epochs = [r for r in read_metrics(job.folder / METRICS) if r["kind"] == "epoch"]
    best = [r for r in epochs if r.get("best")] or epochs
    multi_label = bool(data["multi_label"]) and task == "classification"
    meta = {
        "task": task,
        "network": spec.model_dump(mode="json"),
        # Segmenters and detectors output the background (0) and then the classes.
        "labels": data["classes"] if task == "classification" else ["background", *data["classes"]],
        "multi_label": multi_label,
        "preprocessing": {
            "size": list(data["size"]),
            "input_size": list(spec.input_size),
            "channels": data["channels"],
            "resize_mode": data["resize_mode"],
            "normalize": recipe.normalize,
            "mean": data["mean"],
            "std": data["std"],
        },
        "recipe": recipe.model_dump(mode="json"),
        "metrics": {k: v for k, v in best[-1].items() if k != "best"} if best else {},
        "provenance": {
            "dataset": data["name"],
            "fingerprint": data["fingerprint"],
            "job": job.id,
        },
    }
    # Thresholds are tuned on the validation split, when the dataset is still there (else
    # they stay at 0.5): per class for multi-label, the detector's operating point.
    validation = _same_dataset(data, workspace) if multi_label or task == "detection" else None
    if validation is not None and multi_label:
        meta["thresholds"] = _tuned_thresholds(spec, weights, validation)
    if validation is not None and task == "detection":
        from lumos.evaluate.boxes import tuned_score_threshold

        unsaved = Bundle({**meta, "name": name}, weights, f"job {job.id}")
        meta["score_threshold"] = tuned_score_threshold(unsaved, validation)
    return save_bundle(name, meta=meta, weights=weights, workspace=workspace, overwrite=overwrite)


def _trained_on(folder: Path, dataset: str, workspace: Workspace) -> dict:
    """The manifest of the dataset a job trained on: its copy in the job folder (jobs from
    before it was kept open the dataset)."""
    copy = folder / TRAINED_ON
    if copy.is_file():
        return load_json(copy, "dataset manifest")
    return Dataset.open(dataset, workspace).manifest


def _same_dataset(manifest: dict, workspace: Workspace) -> Dataset | None:
    """The dataset a job trained on, if it is still there unchanged."""
    try:
        dataset = Dataset.open(manifest["name"], workspace)
    except LumosError:
        return None
    return dataset if dataset.manifest["fingerprint"] == manifest["fingerprint"] else None


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
