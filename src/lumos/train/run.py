"""``lumos.train(recipe)``: a training run as a Job, with its folder, checkpoints and state.

``jobs/<id>/`` holds ``recipe.yaml``, ``log.txt``, ``metrics.jsonl`` and
``checkpoints/last.pt`` + ``best.safetensors``. Ctrl-C finishes the current batch, saves
a checkpoint and marks the job aborted; ``resume`` continues any job from its checkpoint,
with more epochs if asked.
"""

from __future__ import annotations

import contextlib
import json
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

from lumos.data import Dataset
from lumos.errors import LumosError
from lumos.jobs import Job, create_job, open_job, set_state
from lumos.train.callbacks import (
    LAST,
    Callback,
    Checkpoints,
    EarlyStopping,
    MetricsLog,
    ProgressBar,
    TensorBoard,
)
from lumos.train.checkpoints import load_checkpoint
from lumos.train.recipe import Recipe, RecipeError
from lumos.train.trainer import Trainer, TrainError
from lumos.workspace import Workspace


class Interrupted(Exception):  # noqa: N818 - a signal, not an error
    """Ctrl-C arrived; the trainer stopped at a batch boundary."""


class _StopOnRequest(Callback):
    def __init__(self) -> None:
        self.requested = False

    def after_batch(self, trainer: Trainer) -> None:
        if self.requested:
            raise Interrupted


@contextlib.contextmanager
def _graceful_interrupt(stopper: _StopOnRequest) -> Iterator[None]:
    """The first Ctrl-C asks the loop to stop after the batch; a second one stops at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def request(signum: int, frame: object) -> None:
        stopper.requested = True
        signal.signal(signal.SIGINT, signal.default_int_handler)

    previous = signal.signal(signal.SIGINT, request)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def train(
    recipe: Recipe | None = None,
    *,
    resume: str | None = None,
    epochs: int | None = None,
    workspace: Workspace | None = None,
    progress: bool = True,
    device: str | None = None,
) -> Job:
    """Train ``recipe`` as a new job, or ``resume`` a job (to ``epochs`` if given)."""
    workspace = (workspace or Workspace()).ensure()
    job, recipe, payload = _start(workspace, recipe, resume, epochs)
    set_state(workspace, job, "running")
    stopper = _StopOnRequest()
    checkpoints = Checkpoints(job.folder / "checkpoints", recipe.checkpoint_every)
    trainer: Trainer | None = None
    try:
        trainer = Trainer(
            recipe,
            Dataset.open(recipe.dataset, workspace),
            callbacks=(stopper, *_callbacks(recipe, job, checkpoints, progress)),
            device=device,
            workspace=workspace,
        )
        if payload is not None:
            trainer.restore(payload)
        else:
            (job.folder / "network.json").write_text(trainer.spec.model_dump_json(indent=2))
        job.log(f"training {recipe.network} on {recipe.dataset} ({trainer.arithmetic.describe()})")
        if trainer.initialised:
            job.log(f"{trainer.initialised} weight tensors taken from model {recipe.init!r}")
        with _graceful_interrupt(stopper):
            trainer.fit()
    except Interrupted:
        assert trainer is not None
        checkpoints.save(trainer)
        where = f"interrupted at epoch {trainer.state.epoch + 1}"
        set_state(
            workspace, job, "aborted", f"{where}; resume with `lumos train --resume {job.id}`"
        )
        raise TrainError(job.error or "interrupted") from None
    except (LumosError, KeyboardInterrupt) as e:
        state = "failed" if isinstance(e, LumosError) else "aborted"
        set_state(workspace, job, state, str(e) or "interrupted")
        raise
    set_state(workspace, job, "done")
    return job


def _start(
    workspace: Workspace, recipe: Recipe | None, resume: str | None, epochs: int | None
) -> tuple[Job, Recipe, dict | None]:
    """The job, its recipe and the checkpoint to continue from (None: from the start)."""
    if resume is None:
        if recipe is None:
            raise RecipeError("train needs a recipe or a job to resume")
        Dataset.open(recipe.dataset, workspace)  # fail before a job exists if the dataset does not
        job = create_job(workspace, "train", recipe.model_dump(mode="json"))
        (job.folder / "recipe.yaml").write_text(recipe.to_yaml())
        return job, recipe, None
    job = open_job(workspace, resume)
    recipe = Recipe.load(job.folder / "recipe.yaml")
    last = job.folder / "checkpoints" / LAST
    payload = load_checkpoint(last) if last.is_file() else None  # killed before one: start over
    _trim_metrics(job.folder / "metrics.jsonl", payload["state"]["epoch"] if payload else 0)
    if epochs is not None:
        recipe.epochs = epochs
        (job.folder / "recipe.yaml").write_text(recipe.to_yaml())
    return job, recipe, payload


def _callbacks(
    recipe: Recipe, job: Job, checkpoints: Checkpoints, progress: bool
) -> list[Callback]:
    # Checkpoints before the metrics log: an epoch in the log always has its checkpoint.
    callbacks: list[Callback] = [checkpoints, MetricsLog(job.folder / "metrics.jsonl")]
    if recipe.early_stopping:
        callbacks.append(EarlyStopping(recipe.early_stopping))
    if recipe.tensorboard:
        callbacks.append(TensorBoard(job.folder / "tensorboard"))
    if progress:
        callbacks.append(ProgressBar())
    return callbacks


def _trim_metrics(path: Path, epochs_kept: int) -> None:
    """Drop log lines from after the checkpoint a run resumes from."""
    if not path.is_file():
        return
    kept = []
    for line in path.read_text().splitlines():
        record = json.loads(line)
        if record["epoch"] < epochs_kept or (
            record["kind"] == "epoch" and record["epoch"] == epochs_kept
        ):
            kept.append(line + "\n")
    path.write_text("".join(kept))
