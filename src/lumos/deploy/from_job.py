"""Turning a finished training job into a bundle."""

from __future__ import annotations

from pathlib import Path

import torch

from lumos.bundle import Bundle, BundleError, BundleMeta, model_folder, save_bundle
from lumos.bundle.fingerprint import fingerprint
from lumos.data import Dataset
from lumos.fileio import load_json
from lumos.jobs import open_job
from lumos.models import NetworkSpec
from lumos.recipe import Recipe
from lumos.tasks import task_of
from lumos.train.callbacks import BEST, LAST, METRICS, TRAINED_ON, read_metrics
from lumos.train.checkpoints import load_checkpoint, load_weights
from lumos.train.setup import normalization
from lumos.workspace import Workspace


def bundle_from_job(
    job_id: str, name: str, *, workspace: Workspace | None = None, overwrite: bool = False
) -> Path:
    """Save the best weights of training job ``job_id`` as model ``name``."""
    workspace = (workspace or Workspace()).ensure()
    model_folder(name, workspace, overwrite=overwrite)
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
    task = task_of(recipe.network)
    spec = NetworkSpec.model_validate_json((job.folder / "network.json").read_text())
    data = _trained_on(job.folder, recipe.dataset, workspace)
    epochs = [r for r in read_metrics(job.folder / METRICS) if r["kind"] == "epoch"]
    best = [r for r in epochs if r.get("best")] or epochs
    meta = {
        "task": task.name,
        "network": spec.model_dump(mode="json"),
        "labels": task.outputs(data["classes"]),
        "multi_label": bool(data["multi_label"]) and task.multi_label,
        "preprocessing": {
            "size": list(data["size"]),
            "input_size": list(spec.input_size),
            "channels": data["channels"],
            "resize_mode": data["resize_mode"],
            "normalize": normalization(recipe),
            **_stats(weights, data),
        },
        "recipe": recipe.model_dump(mode="json"),
        "metrics": {k: v for k, v in best[-1].items() if k != "best"} if best else {},
        "provenance": {
            "dataset": data["name"],
            "fingerprint": data["fingerprint"],
            "job": job.id,
        },
    }
    # Thresholds are tuned on the validation split, and the training data fingerprinted for
    # P2L, when the dataset is still there (else thresholds keep their defaults).
    dataset = Dataset.unchanged(data["name"], data["fingerprint"], workspace)
    if dataset is not None:
        described = BundleMeta.model_validate({**meta, "name": name})
        unsaved = Bundle(described, weights, f"job {job.id}")
        meta |= task.tuned_settings(unsaved, dataset.split("val"))
        meta["feature_fingerprint"] = fingerprint(dataset.split("train")).model_dump()
    return save_bundle(name, meta=meta, weights=weights, workspace=workspace, overwrite=overwrite)


def _stats(weights: dict[str, torch.Tensor], data: dict) -> dict[str, list[float]]:
    """The per-channel mean and std the network normalises by (a run that started from a
    saved model takes that model's), else the data's."""
    mean, std = weights.get("normalize.mean"), weights.get("normalize.std")
    if mean is None or std is None or mean.shape[1:] != (1, 1):
        return {"mean": data["mean"], "std": data["std"]}
    return {"mean": mean.flatten().tolist(), "std": std.flatten().tolist()}


def _trained_on(folder: Path, dataset: str, workspace: Workspace) -> dict:
    """The manifest of the dataset a job trained on: its copy in the job folder (jobs from
    before it was kept open the dataset)."""
    copy = folder / TRAINED_ON
    if copy.is_file():
        return load_json(copy, "dataset manifest")
    return Dataset.open(dataset, workspace).manifest
