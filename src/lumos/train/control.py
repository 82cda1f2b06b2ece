"""Did the source help? A training that started from a saved model (``init=``) set beside
a short run of the same recipe from scratch.

The control keeps the run's schedule (the same ``epochs``, so the learning rate at epoch k
is the same in both) and stops after :data:`CONTROL_EPOCHS`; the validation curves are
compared over those epochs. The source helped if its run's best score there beats the
control's. The comparison is written beside the run: ``control.json`` and ``control.png``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from lumos.data import Dataset
from lumos.figures import pyplot
from lumos.fileio import write_json_atomic
from lumos.jobs import Job
from lumos.recipe import Recipe
from lumos.train.callbacks import METRICS, Callback, read_metrics
from lumos.train.errors import TrainError
from lumos.train.state import TrainState
from lumos.train.trainer import StopTraining, Trainer
from lumos.workspace import Workspace

CONTROL_EPOCHS = 5
SCRATCH = {"init": None, "finetune": "full", "freeze_stages": 0, "unfreeze_every": 0,
           "body_lr": None, "freeze_backbone": False, "batchnorm": "train"}  # fmt: skip


@dataclass
class Comparison:
    """The validation metric per epoch of the run from ``source`` and of the control."""

    source: str
    metric: str
    epochs: list[int]
    from_source: list[float | None]
    from_scratch: list[float | None]
    files: list[str] = field(default_factory=list)

    @property
    def helped(self) -> bool:
        """Whether the run from the source scored better than the control at its best."""
        mine, theirs = _best(self.from_source, self.metric), _best(self.from_scratch, self.metric)
        return mine < theirs if self.metric == "val_loss" else mine > theirs

    def verdict(self) -> str:
        """One plain sentence on the outcome."""
        done = len(self.epochs)
        mine, theirs = _best(self.from_source, self.metric), _best(self.from_scratch, self.metric)
        figures = (
            f"best {self.metric} in {done} epochs: {mine:.4f} from {self.source!r}, "
            f"{theirs:.4f} from scratch"
        )
        if self.helped:
            return f"starting from {self.source!r} helped ({figures})"
        plainly = "did not help: from scratch did as well or better"
        return f"starting from {self.source!r} {plainly} ({figures})"


class _StopAfter(Callback):
    def __init__(self, epochs: int) -> None:
        self.epochs = epochs

    def after_epoch(self, trainer: Trainer, metrics: dict[str, float]) -> None:
        if trainer.state.epoch >= self.epochs:
            raise StopTraining


def run_control(
    job: Job,
    workspace: Workspace,
    *,
    epochs: int = CONTROL_EPOCHS,
    callbacks: Sequence[Callback] = (),
    device: str | None = None,
) -> Comparison:
    """Train training job ``job``'s recipe from scratch for its first ``epochs`` epochs and
    compare the validation curves; the comparison is logged and written in the job."""
    recipe = Recipe.load(job.folder / "recipe.yaml")
    if recipe.init is None:
        raise TrainError(f"job {job.id} did not start from a saved model: nothing to compare")
    scratch = recipe.model_copy(update={**SCRATCH, "val_every": 1})
    steps = min(epochs, recipe.epochs)
    trainer = Trainer(
        scratch,
        Dataset.open(recipe.dataset, workspace),
        callbacks=(*callbacks, _StopAfter(steps)),
        device=device,
        workspace=workspace,
    )
    state = trainer.fit()
    comparison = _compare(recipe.init, trainer.metric, read_metrics(job.folder / METRICS), state)
    _write(comparison, job.folder)
    job.log(comparison.verdict())
    return comparison


def _compare(source: str, metric: str, records: list[dict], control: TrainState) -> Comparison:
    ran = {r["epoch"]: r.get(metric) for r in records if r["kind"] == "epoch"}
    epochs = [h["epoch"] for h in control.history]
    return Comparison(
        source,
        metric,
        epochs,
        [ran.get(e) for e in epochs],
        [h.get(metric) for h in control.history],
    )


def _best(values: list[float | None], metric: str) -> float:
    known = [v for v in values if v is not None]
    if not known:
        return float("nan")
    return min(known) if metric == "val_loss" else max(known)


def _write(comparison: Comparison, folder: Path) -> None:
    plt = pyplot()
    figure, axes = plt.subplots(figsize=(6, 3.6))
    for label, values in ((f"from {comparison.source}", comparison.from_source),
                          ("from scratch", comparison.from_scratch)):  # fmt: skip
        axes.plot(comparison.epochs, [v if v is not None else float("nan") for v in values],
                  marker="o", label=label)  # fmt: skip
    axes.set_xlabel("epoch")
    axes.set_ylabel(comparison.metric)
    axes.set_title(comparison.verdict().split(" (")[0], fontsize=9)
    axes.legend()
    figure.tight_layout()
    figure.savefig(folder / "control.png", dpi=110)
    plt.close(figure)
    comparison.files = ["control.json", "control.png"]
    write_json_atomic(folder / "control.json", {**asdict(comparison), "helped": comparison.helped})
