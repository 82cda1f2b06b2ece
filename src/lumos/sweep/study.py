"""A sweep: an Optuna study whose trials are lumos training jobs.

The study lives in an Optuna storage: the workspace's ``sweeps.db`` (SQLite) by default, or
any SQLAlchemy URL (PostgreSQL, MySQL) that workers on several machines reach. It keeps
the base recipe, the parameters, the sampler, the pruner and the number of trials, so a
worker that joins (:func:`work_on`) needs only its name and the storage. Each trial is a
training job (``lumos jobs``, the workbench) with the trial's values; its validation metric
is reported after every epoch, and a pruner may stop it there.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, get_args

import optuna
from optuna.trial import TrialState

from lumos.errors import NotFoundError
from lumos.recipe import Recipe, RecipeError
from lumos.sweep.space import Param, SweepError, grid, parse_param
from lumos.tasks import task_of
from lumos.train import train
from lumos.train.callbacks import METRICS, Callback, read_metrics
from lumos.train.trainer import StopTraining, Trainer
from lumos.workspace import Workspace, validate_name

DATABASE = "sweeps.db"  # the workspace's own study storage
Sampler = Literal["tpe", "random", "grid"]
Pruner = Literal["none", "median"]
SAMPLERS, PRUNERS = get_args(Sampler), get_args(Pruner)
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)

optuna.logging.set_verbosity(optuna.logging.WARNING)


@dataclass(frozen=True)
class Sweep:
    """What a study holds about itself."""

    name: str
    recipe: Recipe
    params: list[Param]
    trials: int
    sampler: str
    prune: str
    storage: str

    @property
    def metric(self) -> str:
        return self.recipe.metric or task_of(self.recipe.network).default_metric


def storage_url(url: str | None, workspace: Workspace) -> str:
    """``url``, or the workspace's own SQLite file."""
    return url or f"sqlite:///{workspace.ensure().root / DATABASE}"


def create_sweep(
    recipe: Recipe,
    params: list[str],
    *,
    name: str,
    trials: int,
    sampler: str = "tpe",
    prune: str = "none",
    storage: str | None = None,
    workspace: Workspace | None = None,
) -> Sweep:
    """A new study ``name`` trying ``params`` (``NAME=SPEC``) on ``recipe``; nothing is
    stored if a parameter, the sampler, the pruner or the storage is bad."""
    workspace = workspace or Workspace()
    validate_name(name, "sweep name")
    if recipe.nproc > 1:
        raise SweepError("a sweep trains each trial on one process: leave nproc at 1")
    if sampler not in SAMPLERS or prune not in PRUNERS:
        raise SweepError(f"--sampler is one of {', '.join(SAMPLERS)}; --prune one of "
                         f"{', '.join(PRUNERS)}")  # fmt: skip
    space = [parse_param(text, recipe) for text in params]
    if not space:
        raise SweepError("give at least one --param NAME=SPEC to vary")
    if len({p.name for p in space}) != len(space):
        raise SweepError("each --param names a different recipe field")
    if sampler == "grid":
        grid(space)
    sweep = Sweep(name, recipe, space, trials, sampler, prune, storage_url(storage, workspace))
    direction = "minimize" if sweep.metric == "val_loss" else "maximize"
    study = _guarded(lambda: optuna.create_study(
        storage=sweep.storage, study_name=name, direction=direction
    ), sweep.storage)  # fmt: skip
    attributes = {"recipe": recipe.model_dump(mode="json"), "params": [p.text for p in space],
                  "trials": trials, "sampler": sampler, "prune": prune}  # fmt: skip
    for key, value in attributes.items():
        study.set_user_attr(key, value)
    return sweep


def sweep_names(workspace: Workspace | None = None) -> list[str]:
    """The sweeps in the workspace's own study database (none without one)."""
    workspace = workspace or Workspace()
    if not (workspace.root / DATABASE).is_file():
        return []
    return optuna.get_all_study_names(storage_url(None, workspace))


def open_sweep(name: str, storage: str | None = None, workspace: Workspace | None = None) -> Sweep:
    """The sweep ``name`` in ``storage`` (default: the workspace's, not made by asking)."""
    workspace = workspace or Workspace()
    if storage is None and not (workspace.root / DATABASE).is_file():
        raise NotFoundError(f"no sweep named {name!r}")
    url = storage_url(storage, workspace)
    study = _study(name, url)
    a = study.user_attrs
    recipe = Recipe.parse(a["recipe"], f"sweep {name}")
    space = [parse_param(text, recipe) for text in a["params"]]
    return Sweep(name, recipe, space, a["trials"], a["sampler"], a["prune"], url)


def work_on(
    sweep: Sweep,
    workspace: Workspace | None = None,
    *,
    seed: int | None = None,
    progress: Callable[[int, int], None] = lambda done, wanted: None,
) -> int:
    """Run the sweep's trials until it has as many as it asked for (other workers may be
    running some); returns how many this worker ran. ``progress`` hears the trials this
    worker ran after each, and the sweep's number."""
    workspace = workspace or Workspace()
    study = _study(sweep.name, sweep.storage, sampler=_sampler(sweep, seed), pruner=_pruner(sweep))
    ran = 0
    while _counted(study) < sweep.trials:
        trial = study.ask()
        if trial.number >= sweep.trials:  # another worker asked first: this one is surplus
            trial.set_user_attr("surplus", True)
            study.tell(trial, state=TrialState.FAIL)
            break
        state, value = _run_trial(sweep, trial, workspace)
        study.tell(trial, value, state=state)
        ran += 1
        progress(ran, sweep.trials)
    return ran


def trials_of(sweep: Sweep) -> list[optuna.trial.FrozenTrial]:
    """The sweep's trials, surplus ones left out."""
    study = _study(sweep.name, sweep.storage)
    return [t for t in study.get_trials(deepcopy=False) if not t.user_attrs.get("surplus")]


def trial_recipe(sweep: Sweep, values: dict[str, Any]) -> Recipe:
    return Recipe.parse(sweep.recipe.model_dump() | values, f"sweep {sweep.name}")


class _Report(Callback):
    """Reports the validation metric after every epoch; stops the run if the pruner says."""

    def __init__(self, trial: optuna.Trial, metric: str) -> None:
        self.trial, self.metric, self.pruned_at = trial, metric, 0

    def after_epoch(self, trainer: Trainer, metrics: dict[str, float]) -> None:
        if self.metric not in metrics:
            return
        epoch = int(metrics["epoch"])
        self.trial.report(metrics[self.metric], epoch)
        if self.trial.should_prune():
            self.pruned_at = epoch
            trainer.emit("on_message", f"pruned by sweep at epoch {epoch}")
            raise StopTraining


def _run_trial(
    sweep: Sweep, trial: optuna.Trial, workspace: Workspace
) -> tuple[TrialState, float | None]:
    values = {p.name: p.suggest(trial) for p in sweep.params}
    try:
        recipe = trial_recipe(sweep, values)
    except RecipeError as e:
        trial.set_user_attr("error", str(e))
        return TrialState.FAIL, None
    report = _Report(trial, sweep.metric)
    job = train(recipe, workspace=workspace, progress=False, callbacks=(report,))
    trial.set_user_attr("job", job.id)
    epochs = [r for r in read_metrics(job.folder / METRICS) if r["kind"] == "epoch"]
    trial.set_user_attr("epochs", len(epochs))
    best = [r[sweep.metric] for r in epochs if sweep.metric in r]
    if report.pruned_at:
        job.log(f"pruned by sweep {sweep.name} at epoch {report.pruned_at}")
        return TrialState.PRUNED, None
    if not best:
        return TrialState.FAIL, None
    return TrialState.COMPLETE, (min(best) if sweep.metric == "val_loss" else max(best))


def _counted(study: optuna.Study) -> int:
    """Trials finished or running, surplus ones left out."""
    trials = study.get_trials(deepcopy=False, states=(*FINISHED, TrialState.RUNNING))
    return sum(1 for t in trials if not t.user_attrs.get("surplus"))


def _sampler(sweep: Sweep, seed: int | None) -> optuna.samplers.BaseSampler:
    if sweep.sampler == "grid":
        return optuna.samplers.GridSampler(grid(sweep.params), seed=seed)
    if sweep.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed)


def _pruner(sweep: Sweep) -> optuna.pruners.BasePruner:
    if sweep.prune == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1)
    return optuna.pruners.NopPruner()


def _study(name: str, url: str, **options: Any) -> optuna.Study:
    try:
        return _guarded(lambda: optuna.load_study(study_name=name, storage=url, **options), url)
    except KeyError:
        raise NotFoundError(f"no sweep named {name!r} in {_shown(url)}") from None


def _guarded(make: Any, url: str) -> optuna.Study:
    """``make()``, with a storage that cannot be reached or a name taken said in one line."""
    try:
        return make()
    except optuna.exceptions.DuplicatedStudyError:
        raise SweepError(f"a sweep of that name is already in {_shown(url)}: join it with "
                         "--join NAME, or choose another --name") from None  # fmt: skip
    except (ImportError, ValueError) as e:
        raise SweepError(f"cannot use storage {_shown(url)}: {e}") from None
    except Exception as e:  # SQLAlchemy's errors: a database that is down, refused, unknown
        if type(e).__module__.startswith("sqlalchemy"):
            reason = str(getattr(e, "orig", e)).strip().splitlines()[0]
            raise SweepError(f"cannot reach storage {_shown(url)}: {reason}") from None
        raise


def _shown(url: str) -> str:
    """A storage URL without its password."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)
