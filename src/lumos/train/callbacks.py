"""What happens around the loop: progress, metrics log, checkpoints, early stopping.

Each is a :class:`Callback` reacting to the trainer's events, so the loop itself stays short.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)

from lumos.recipe import RecipeError
from lumos.train.checkpoints import save_checkpoint, save_weights
from lumos.train.trainer import Callback, StopTraining, Trainer

LAST, BEST = "last.pt", "best.safetensors"
METRICS = "metrics.jsonl"
TRAINED_ON = "dataset.json"  # the manifest of the dataset a job trained on


class MetricsLog(Callback):
    """Appends one JSON line per epoch to ``metrics.jsonl``, and one every ``every`` batches
    (at least ten an epoch, for live charts) with the mean loss and the rate since the one
    before."""

    def __init__(self, path: Path, every: int = 20) -> None:
        self.path, self.every = path, every
        self._started = time.perf_counter()
        self._last_time = self._last_seen = self._last_loss = 0.0

    def before_fit(self, trainer: Trainer) -> None:
        self._started = time.perf_counter()

    def _write(self, record: dict) -> None:
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")

    def before_epoch(self, trainer: Trainer) -> None:
        sums = trainer.state.sums
        self._last_time, self._last_seen, self._last_loss = (
            time.perf_counter(),
            sums["seen"],
            sums["loss"],
        )

    def after_batch(self, trainer: Trainer) -> None:
        s = trainer.state
        if s.position % max(1, min(self.every, len(trainer.loader) // 10)):
            return
        now = time.perf_counter()
        # The processes of a run train in step on equal parts of each batch.
        since = s.sums["seen"] - self._last_seen
        rate = since * trainer.group.processes / max(now - self._last_time, 1e-9)
        # The mean loss of the images since the last record: no running mean that starts
        # again (and drops) at every epoch.
        loss = (s.sums["loss"] - self._last_loss) / max(since, 1)
        self._last_time, self._last_seen, self._last_loss = now, s.sums["seen"], s.sums["loss"]
        self._write(
            {
                "kind": "step",
                "epoch": s.epoch + s.position / len(trainer.loader),
                "step": s.step,
                "train_loss": loss,
                "lr": trainer.optimizer.param_groups[0]["lr"],
                "images_per_s": rate,
            }
        )

    def after_epoch(self, trainer: Trainer, metrics: dict[str, float]) -> None:
        elapsed = round(time.perf_counter() - self._started, 3)  # since this (re)start
        self._write({"kind": "epoch", "step": trainer.state.step, "elapsed": elapsed, **metrics})


def read_metrics(path: Path) -> list[dict]:
    """The records a :class:`MetricsLog` wrote, oldest first; [] before the first one.

    A line still being written (no newline yet) is left for the next read.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in text.splitlines(keepends=True) if line.endswith("\n")]


class Checkpoints(Callback):
    """``last.pt`` every ``every`` epochs, at the end, and inside an epoch every ``steps``
    optimiser steps or ``minutes`` of training (0: never), so that a killed run loses little;
    ``best.safetensors`` on a new best."""

    def __init__(self, folder: Path, every: int = 1, steps: int = 0, minutes: float = 0) -> None:
        self.folder, self.every, self.steps, self.seconds = folder, every, steps, minutes * 60
        self._saved_step, self._saved_at = 0, time.monotonic()

    def before_fit(self, trainer: Trainer) -> None:
        self._saved_step, self._saved_at = trainer.state.step, time.monotonic()

    def after_batch(self, trainer: Trainer) -> None:
        s = trainer.state
        if s.position == len(trainer.loader) or s.position % trainer.recipe.accumulate:
            return  # the epoch's end saves; gradients still accumulating are not saved
        due_by_steps = self.steps and s.step - self._saved_step >= self.steps
        due_by_time = self.seconds and time.monotonic() - self._saved_at >= self.seconds
        if due_by_steps or due_by_time:
            self.save(trainer)

    def after_epoch(self, trainer: Trainer, metrics: dict[str, float]) -> None:
        if metrics.get("best"):
            save_weights(
                self.folder / BEST,
                trainer.eval_model().state_dict(),
                {"epoch": str(metrics["epoch"])},
            )
        if trainer.state.epoch % self.every == 0 or trainer.state.epoch == trainer.recipe.epochs:
            self.save(trainer)

    def save(self, trainer: Trainer) -> None:
        save_checkpoint(self.folder / LAST, trainer.checkpoint())
        self._saved_step, self._saved_at = trainer.state.step, time.monotonic()


class EarlyStopping(Callback):
    """Stops when the recipe's metric has not improved for ``patience`` validated epochs."""

    def __init__(self, patience: int) -> None:
        self.patience = patience

    def after_epoch(self, trainer: Trainer, metrics: dict[str, float]) -> None:
        s = trainer.state
        if self.patience and s.best_epoch is not None and s.epoch - s.best_epoch >= self.patience:
            trainer.emit(
                "on_message",
                f"early stop: no better {trainer.metric} for {self.patience} epochs",
            )
            raise StopTraining


class TimeLimit(Callback):
    """Ends the run within ``minutes`` of this process's training, within a step of them:
    every few steps the run's last step becomes what fits at the pace so far (the time the
    last validation took kept aside for the one that closes the run), and the learning-rate
    schedule follows, to the step; the epoch it ends in closes there (validated and
    checkpointed) and the run says how far it got. Every process decides alike, from the
    pace averaged across them; a run of one process also stops at the deadline itself."""

    CHECKS = 20  # an epoch

    def __init__(self, minutes: float) -> None:
        self.seconds = minutes * 60

    def before_fit(self, trainer: Trainer) -> None:
        self.started, self.first = time.monotonic(), trainer.state.step
        self.validating: float | None = None
        self.batch_ended = self.started

    def after_batch(self, trainer: Trainer) -> None:
        s = trainer.state
        now = self.batch_ended = time.monotonic()
        done = s.step - self.first
        if done <= 0:
            return
        elapsed = now - self.started
        if trainer.group.processes == 1 and elapsed >= self.seconds:
            trainer.schedule.last_step = s.step
        elif s.position % max(1, len(trainer.loader) // self.CHECKS) == 0:
            pace = trainer.group.total({"pace": elapsed / done})["pace"] / trainer.group.processes
            validation = self.validating
            if validation is None:  # not seen yet: forward passes, a third of a step each
                validation = pace * len(trainer.val_loader) / 3
            fits = s.step + max(int((self.seconds - elapsed - validation) / pace), 0)
            trainer.schedule.last_step = fits if fits < trainer.schedule.asked_steps else None

    def after_epoch(self, trainer: Trainer, metrics: dict[str, float]) -> None:
        self.validating = time.monotonic() - self.batch_ended
        s = trainer.state
        if trainer.schedule.over(s.step):
            epochs = s.step / trainer.schedule.steps_per_epoch
            trainer.emit(
                "on_message",
                f"time limit: {self.seconds / 60:g} minutes reached after {epochs:.2f} epochs "
                f"(step {s.step} of {trainer.schedule.asked_steps} "
                "asked for); the checkpoint holds the run so far",
            )
            raise StopTraining


class ProgressBar(Callback):
    """A terminal bar for the epoch running (loss, accuracy, learning rate, images/s, ETA)
    above which each finished epoch leaves one line.

    One bar, reset each epoch, redrawn by the training loop itself at most
    :attr:`REDRAWS` times a second: rich's refresh thread (a bar kept per epoch, ten redraws
    a second) held the GIL the loop needs between operations (the demo's detector: 87
    against 110 images/s)."""

    REDRAWS = 4

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self.bar: Progress | None = None
        self.task: TaskID | None = None
        self._start = 0.0
        self._seen = 0.0
        self._drawn = 0.0
        self._stepping = False  # between before_epoch and after_epoch

    def before_fit(self, trainer: Trainer) -> None:
        self.bar = Progress(
            TextColumn("epoch {task.fields[epoch]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]:.4f}{task.fields[acc]} lr {task.fields[lr]:.2e}"),
            TextColumn("{task.fields[rate]:,.0f} img/s"),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=self.console,
            transient=True,
            auto_refresh=False,
        )
        self.bar.start()

    def before_epoch(self, trainer: Trainer) -> None:
        assert self.bar is not None
        s = trainer.state
        self._start, self._seen = time.perf_counter(), s.sums["seen"]
        fields = {"epoch": f"{s.epoch + 1}/{trainer.recipe.epochs}", "loss": 0.0, "acc": "",
                  "lr": 0.0, "rate": 0.0}  # fmt: skip
        if self.task is None:
            self.task = self.bar.add_task("", total=len(trainer.loader), **fields)
        self.bar.reset(self.task, total=len(trainer.loader), completed=s.position, **fields)
        self._stepping = True

    def after_batch(self, trainer: Trainer) -> None:
        assert self.bar is not None and self.task is not None
        sums = trainer.state.sums
        seen = max(sums["seen"], 1)
        elapsed = max(time.perf_counter() - self._start, 1e-9)
        self.bar.update(
            self.task,
            completed=trainer.state.position,
            loss=sums["loss"] / seen,
            # a detector counts no hits: its bar shows no accuracy
            acc=f" acc {sums['correct'] / sums['counted']:.3f}" if sums["counted"] else "",
            lr=trainer.optimizer.param_groups[0]["lr"],
            rate=(sums["seen"] - self._seen) * trainer.group.processes / elapsed,
        )
        now = time.perf_counter()
        if now - self._drawn >= 1 / self.REDRAWS:
            self.bar.refresh()
            self._drawn = now

    def after_epoch(self, trainer: Trainer, metrics: dict[str, float]) -> None:
        shown = "  ".join(f"{k} {v:.4f}" for k, v in metrics.items() if k.startswith("val_"))
        best = "  (best)" if metrics.get("best") else ""
        if not self._stepping:  # an epoch without steps of its own (a linear probe's)
            self.console.print(f"epoch {int(metrics['epoch'])}: {shown}{best}", highlight=False)
            return
        assert self.bar is not None and self.task is not None
        trained = self.bar.tasks[self.task].fields
        self._stepping = False
        self.console.print(
            f"epoch {trained['epoch']}: loss {trained['loss']:.4f}{trained['acc']} "
            f"({trained['rate']:,.0f} img/s)  {shown}{best}",
            highlight=False,
        )

    def on_message(self, trainer: Trainer, message: str) -> None:
        self.console.print(message)

    def after_fit(self, trainer: Trainer) -> None:
        if self.bar is not None:
            self.bar.stop()


class TensorBoard(Callback):
    """Epoch metrics as TensorBoard scalars in ``folder`` (needs the tensorboard package)."""

    def __init__(self, folder: Path) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise RecipeError(
                "tensorboard: true needs the tensorboard package (pip install tensorboard)"
            ) from None
        self.writer = SummaryWriter(str(folder))

    def after_epoch(self, trainer: Trainer, metrics: dict[str, float]) -> None:
        for key, value in metrics.items():
            if key not in ("epoch", "best"):
                self.writer.add_scalar(key, value, int(metrics["epoch"]))
        self.writer.flush()

    def after_fit(self, trainer: Trainer) -> None:
        self.writer.close()
