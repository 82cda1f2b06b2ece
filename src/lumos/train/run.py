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
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch

from lumos.data import Dataset
from lumos.errors import LumosError, Stopped
from lumos.fileio import write_json_atomic
from lumos.jobs import Job, create_job, open_job, set_state
from lumos.models import NetworkSpec, build_network, input_for
from lumos.pretrained.init import with_network
from lumos.recipe import Recipe, RecipeError
from lumos.tasks import task_of
from lumos.threads import choose as choose_threads
from lumos.threads import computing_with
from lumos.train.callbacks import (
    LAST,
    METRICS,
    TRAINED_ON,
    Callback,
    Checkpoints,
    EarlyStopping,
    MetricsLog,
    ProgressBar,
    TensorBoard,
    TimeLimit,
    read_metrics,
)
from lumos.train.checkpoints import load_checkpoint
from lumos.train.group import ALONE, Group
from lumos.train.launch import Processes, check, launch
from lumos.train.setup import check_fit
from lumos.train.trainer import Trainer, TrainError
from lumos.workspace import Workspace

PROCESSES_REPORT = "processes.txt"  # the last output of a group's processes that failed


class _StopRequested(Exception):  # noqa: N818 - a signal, not an error
    """Ctrl-C arrived; the trainer stopped at a batch boundary."""


class _StopOnRequest(Callback):
    """Stops the run after the batch in which Ctrl-C arrived (in every process of it)."""

    def __init__(self, group: Group = ALONE) -> None:
        self.requested = False
        self.group = group

    def after_batch(self, trainer: Trainer) -> None:
        if self.group.anyone(self.requested):
            raise _StopRequested


class _JobProgress(Callback):
    """Batches done out of the run's total (where a time limit ends it, there), in the job's
    progress file; the run's messages (a time limit, early stopping) in its log."""

    def __init__(self, job: Job) -> None:
        self.job = job

    def after_batch(self, trainer: Trainer) -> None:
        batches, s = len(trainer.loader), trainer.state
        total = trainer.recipe.epochs * batches
        if trainer.schedule.last_step is not None:
            total = min(total, trainer.schedule.last_step * trainer.recipe.accumulate)
        self.job.report_progress("train", s.epoch * batches + s.position, total)

    def on_message(self, trainer: Trainer, message: str) -> None:
        self.job.log(message)


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
    processes: Processes | None = None,
    callbacks: tuple[Callback, ...] = (),
) -> Job:
    """Train ``recipe`` as a new job, or ``resume`` a job (to ``epochs`` if given). A recipe
    with ``nproc`` above 1 (or ``processes``) trains on that many processes (torchrun).
    ``callbacks`` see the run beside the job's own (on one process only)."""
    workspace = (workspace or Workspace()).ensure()
    if processes is not None:
        check(processes, device)
    nproc = processes.per_node * processes.nodes if processes else None
    job, recipe, payload = _start(workspace, recipe, resume, epochs, nproc)
    if recipe.nproc > 1:
        processes = processes or Processes(per_node=recipe.nproc)
        return _launched(workspace, job, processes, device, progress)
    run(workspace, job, recipe, payload, progress=progress, device=device, callbacks=callbacks)
    return job


def join(
    processes: Processes, *, workspace: Workspace | None = None, device: str | None = None
) -> None:
    """Train beside a run that another machine leads (machine 0 keeps the job)."""
    check(processes, device)
    launch(processes, None, (workspace or Workspace()).ensure().root, device)


def run(
    workspace: Workspace,
    job: Job | None,
    recipe: Recipe,
    payload: dict | None,
    *,
    progress: bool = True,
    device: str | None = None,
    group: Group = ALONE,
    callbacks: tuple[Callback, ...] = (),
) -> None:
    """Run the training in this process, from ``payload`` (a checkpoint) if given. The
    process of ``group`` that writes keeps ``job``'s state, log, metrics and checkpoints;
    the others (``job`` None) only train beside it."""
    if job is not None and group.processes == 1:  # (a group's job runs in its launcher)
        set_state(workspace, job, "running")
    threads, chosen_by = choose_threads(recipe.threads, payload and payload.get("threads"))
    stopper = _StopOnRequest(group)
    checkpoints = None
    trainer: Trainer | None = None
    try:
        with computing_with(threads):
            dataset = Dataset.open(recipe.dataset, workspace)
            if job is not None:
                job.log(f"threads: {threads} ({chosen_by})")
                checkpoints = Checkpoints(
                    job.folder / "checkpoints",
                    recipe.checkpoint_every,
                    recipe.checkpoint_steps,
                    recipe.checkpoint_minutes,
                )
            trainer = Trainer(
                recipe,
                dataset,
                # The stopper last: every other callback has seen the batch it stops after.
                callbacks=(*_callbacks(recipe, job, checkpoints, progress), *callbacks, stopper),
                device=device,
                workspace=workspace,
                group=group,
            )
            _prepare(trainer, job, payload)
            with _graceful_interrupt(stopper):
                trainer.fit()
    except _StopRequested:
        assert trainer is not None
        if job is None or checkpoints is None:
            raise Stopped("interrupted") from None
        checkpoints.save(trainer)
        where = f"interrupted at epoch {trainer.state.epoch + 1}"
        set_state(
            workspace, job, "aborted", f"{where}; resume with `lumos train --resume {job.id}`"
        )
        raise Stopped(job.error or "interrupted") from None
    except (LumosError, KeyboardInterrupt) as e:
        if job is not None:
            state = "failed" if isinstance(e, LumosError) else "aborted"
            set_state(workspace, job, state, str(e) or "interrupted")
        raise
    if job is not None:
        set_state(workspace, job, "done")


def _launched(
    workspace: Workspace, job: Job, processes: Processes, device: str | None, progress: bool
) -> Job:
    """``job`` trained by torchrun's processes; failed with the reason if they died before
    they could say so themselves. The job runs in this process, which outlives them."""
    set_state(workspace, job, "running")
    try:
        report = job.folder / PROCESSES_REPORT
        launch(processes, job.id, workspace.root, device, progress=progress, report=report)
    except TrainError as e:
        job = open_job(workspace, job.id)
        if job.state == "aborted":  # its processes were stopped, and said how to resume
            raise Stopped(job.error or "interrupted") from None
        if job.state in ("queued", "running"):
            resume = f"lumos train --resume {job.id}"
            said = f"{e} (their output: {PROCESSES_REPORT}); resume with `{resume}`"
            set_state(workspace, job, "failed", said)
        raise TrainError(open_job(workspace, job.id).error or str(e)) from None
    return open_job(workspace, job.id)


def _prepare(trainer: Trainer, job: Job | None, payload: dict | None) -> None:
    """A new run writes what a bundle needs (network, the data's manifest, so a finished
    run saves without its dataset); a resumed one restores its checkpoint."""
    recipe = trainer.recipe
    if payload is not None:
        trainer.restore(payload)
    if job is None:
        return
    if payload is None:
        (job.folder / "network.json").write_text(trainer.spec.model_dump_json(indent=2))
        write_json_atomic(job.folder / TRAINED_ON, trainer.dataset.manifest)
    _trim_metrics(job.folder / METRICS, trainer)
    job.log(f"training {recipe.network} on {recipe.dataset} ({trainer.arithmetic.describe()})")
    job.log(trainer.input.line())
    taken = trainer.initialised
    if taken is not None:
        head = (
            f"; its head shares {taken.head_classes} of {taken.head_size} classes by name "
            "(the others start fresh)"
            if taken.head_size
            else ""
        )
        job.log(f"{taken.copied} weight tensors taken from model {recipe.init!r}{head}")


def queue_training(
    recipe: Recipe, workspace: Workspace | None = None, *, layers: str | None = None
) -> Job:
    """A queued training job for ``recipe``, for a runner to start (``train(resume=id)``);
    refused before a job exists if the recipe could not train (:func:`check_recipe`). A
    recipe that starts from a library's weights and names no network gets theirs.
    ``layers``: a custom network's layer list (YAML), kept in the job as its network."""
    workspace = (workspace or Workspace()).ensure()
    recipe = with_network(recipe)
    check_recipe(recipe, Dataset.open(recipe.dataset, workspace))

    def prepare(folder: Path) -> dict[str, Any]:
        if layers is not None:
            (folder / "network.yaml").write_text(layers, encoding="utf-8")
            recipe.network = str(folder / "network.yaml")
        (folder / "recipe.yaml").write_text(recipe.to_yaml())
        return recipe.model_dump(mode="json")

    return create_job(workspace, TrainJob.kind, {}, prepare)


@dataclass(frozen=True)
class TrainJob:
    """A queued training run: its recipe is the job's own ``recipe.yaml`` (the store keeps
    its fields too), so a worker resumes the job."""

    kind: ClassVar[str] = "train"

    def run(self, workspace: Workspace, job_id: str) -> None:
        train(resume=job_id, workspace=workspace, progress=False)


def check_recipe(recipe: Recipe, dataset: Dataset) -> None:
    """What can be known of a run before it starts: the network exists and builds for the
    dataset's images (on the meta device: no memory, no time), and it fits the data."""
    check_fit(recipe, dataset)
    outputs = len(task_of(recipe.network).outputs(dataset.classes))
    size = input_for(recipe.network, dataset.size, recipe.input_size).size
    spec = NetworkSpec.resolve(recipe.network, outputs, dataset.channels, size)
    with torch.device("meta"):
        build_network(spec)


def _start(
    workspace: Workspace,
    recipe: Recipe | None,
    resume: str | None,
    epochs: int | None,
    nproc: int | None = None,
) -> tuple[Job, Recipe, dict | None]:
    """The job, its recipe (with ``epochs`` and ``nproc`` if given) and the checkpoint to
    continue from (None: from the start)."""
    if resume is None:
        if recipe is None:
            raise RecipeError("train needs a recipe or a job to resume")
        if nproc is not None:
            recipe = Recipe.parse(recipe.model_dump() | {"nproc": nproc}, "recipe")
        job = queue_training(recipe, workspace)
        return job, Recipe.load(job.folder / "recipe.yaml"), None
    job = open_job(workspace, resume)
    recipe = Recipe.load(job.folder / "recipe.yaml")
    last = job.folder / "checkpoints" / LAST
    payload = load_checkpoint(last) if last.is_file() else None  # killed before one: start over
    if epochs is not None or nproc is not None:
        changes = {"epochs": epochs, "nproc": nproc}
        values = {k: v for k, v in changes.items() if v is not None}
        recipe = Recipe.parse(recipe.model_dump() | values, str(job.folder / "recipe.yaml"))
        (job.folder / "recipe.yaml").write_text(recipe.to_yaml())
    return job, recipe, payload


def _callbacks(
    recipe: Recipe, job: Job | None, checkpoints: Checkpoints | None, progress: bool
) -> list[Callback]:
    """The job's callbacks; without a job (a process beside the one that writes), only
    early stopping and the time limit, which every process decides alike."""
    stopping: list[Callback] = (
        [EarlyStopping(recipe.early_stopping)] if recipe.early_stopping else []
    )
    if recipe.time_limit:
        stopping.append(TimeLimit(recipe.time_limit))
    if job is None or checkpoints is None:
        return stopping
    # Checkpoints before the metrics log: an epoch in the log always has its checkpoint.
    callbacks: list[Callback] = [
        checkpoints,
        MetricsLog(job.folder / METRICS),
        _JobProgress(job),
        *stopping,
    ]
    if recipe.tensorboard:
        callbacks.append(TensorBoard(job.folder / "tensorboard"))
    if progress:
        callbacks.append(ProgressBar())
    return callbacks


def _trim_metrics(path: Path, trainer: Trainer) -> None:
    """Drop log lines written after the point the trainer starts from (a resumed run
    writes them again); the steps of an epoch cut short before that point stay."""
    if not path.is_file():
        return
    s = trainer.state
    done = s.epoch + s.position / len(trainer.loader)
    kept = []
    for line in path.read_text().splitlines():
        record = json.loads(line)
        last = s.epoch if record["kind"] == "epoch" else done
        if record["epoch"] <= last:
            kept.append(line + "\n")
    path.write_text("".join(kept))


def training_summary(job: Job) -> dict[str, Any]:
    """Epochs done and planned, and the metric the run optimises with its best value so far."""
    epochs = [r for r in read_metrics(job.folder / METRICS) if r["kind"] == "epoch"]
    best = [r for r in epochs if r.get("best")]
    metric = job.params.get("metric") or task_of(job.params["network"]).default_metric
    return {
        "epochs_done": int(epochs[-1]["epoch"]) if epochs else 0,
        "epochs": job.params.get("epochs"),
        "metric": metric,
        "best": best[-1].get(metric) if best else None,
    }
