"""Turning a training job into a bundle: at once (:func:`bundle_from_job`) or as a job of its
own that front ends follow (:class:`SaveModelJob`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

import torch
from pydantic.dataclasses import dataclass as validated

from lumos.bundle import Bundle, BundleError, BundleMeta, model_folder, save_bundle
from lumos.data import Dataset
from lumos.fileio import load_json
from lumos.jobs import Job, find_jobs, open_job, queue_work, running_job
from lumos.models import NetworkSpec
from lumos.recipe import Recipe
from lumos.tasks import task_of
from lumos.train.callbacks import BEST, LAST, METRICS, TRAINED_ON, read_metrics
from lumos.train.checkpoints import load_checkpoint, load_weights
from lumos.train.setup import normalization
from lumos.workspace import Workspace


@validated(frozen=True)
class SaveModelJob:
    """:func:`bundle_from_job` in a worker: the best weights of training job ``job`` saved
    as model ``name`` (the web takes it as the request's body)."""

    kind: ClassVar[str] = "save"
    job: str
    name: str
    overwrite: bool = False

    def run(self, workspace: Workspace, job_id: str) -> None:
        with running_job(workspace, self.kind, {}, job_id) as saving:
            stages = ("tuning thresholds", "writing")

            def stage(name: str) -> None:
                saving.report_progress(name, stages.index(name), len(stages))

            bundle_from_job(
                self.job, self.name, workspace=workspace, overwrite=self.overwrite, stage=stage
            )
            saving.report_progress("saved", len(stages), len(stages))
            saving.record_result({"model": self.name})


def queue_save(work: SaveModelJob, workspace: Workspace) -> Job:
    """A queued save, refused up front if it could not be made (a name that is taken or not
    valid or already being saved, a job that is not a training job or has no checkpoint)."""
    model_folder(work.name, workspace, overwrite=work.overwrite)
    saving = [row["id"] for state in ("queued", "running")
              for row in find_jobs(workspace, work.kind, state=state, name=work.name)]  # fmt: skip
    if saving:
        raise BundleError(f"model {work.name!r} is being saved already (job {saving[0]})")
    _checkpoint(open_job(workspace, work.job))
    return queue_work(work, workspace)


def bundle_from_job(
    job_id: str,
    name: str,
    *,
    workspace: Workspace | None = None,
    overwrite: bool = False,
    stage: Callable[[str], None] = lambda _: None,
) -> Path:
    """Save the best weights of training job ``job_id`` as model ``name``; ``stage`` hears
    each stage's name as it starts."""
    workspace = (workspace or Workspace()).ensure()
    model_folder(name, workspace, overwrite=overwrite)
    job = open_job(workspace, job_id)
    checkpoint = _checkpoint(job)
    best = checkpoint.name == BEST
    weights = load_weights(checkpoint) if best else load_checkpoint(checkpoint)["model"]
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
    # Thresholds are tuned on the validation split when the dataset is still there (else
    # they keep their defaults). P2L's fingerprint of the training data is made when a
    # ranking asks for it (lumos.transfer.scoring), not at every save.
    dataset = Dataset.unchanged(data["name"], data["fingerprint"], workspace)
    if dataset is not None:
        described = BundleMeta.model_validate({**meta, "name": name})
        unsaved = Bundle(described, weights, f"job {job.id}")
        stage("tuning thresholds")
        meta |= task.tuned_settings(unsaved, dataset.split("val"))
    stage("writing")
    return save_bundle(name, meta=meta, weights=weights, workspace=workspace, overwrite=overwrite)


def _checkpoint(job: Job) -> Path:
    """The checkpoint of training job ``job`` a model is saved from: its best, else its last."""
    if job.kind != "train":
        raise BundleError(f"job {job.id} is not a training job (it is {job.kind!r})")
    folder = job.folder / "checkpoints"
    for name in (BEST, LAST):
        if (folder / name).is_file():
            return folder / name
    raise BundleError(f"job {job.id} has no checkpoint yet")


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
