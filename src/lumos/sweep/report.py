"""What a sweep found: the trials as a table (CSV), the best recipe (YAML), and the
parameters' importance and a parallel-coordinate plot (PNG), in ``sweeps/<name>/``."""

from __future__ import annotations

import csv
import io
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from lumos.figures import pyplot
from lumos.fileio import write_bytes_atomic
from lumos.sweep.study import Sweep, trial_recipe, trials_of
from lumos.workspace import Workspace

TABLE, BEST, IMPORTANCE, PARALLEL = "trials.csv", "best.yaml", "importance.png", "parallel.png"


@dataclass(frozen=True)
class Row:
    number: int
    state: str
    value: float | None
    params: dict[str, Any]
    job: str | None
    epochs: int | None

    def as_dict(self) -> dict[str, Any]:
        return {"number": self.number, "state": self.state, "value": self.value,
                "params": self.params, "job": self.job, "epochs": self.epochs}  # fmt: skip


def rows(sweep: Sweep) -> list[Row]:
    """Every trial, in the order they were asked."""
    return [
        Row(
            t.number,
            t.state.name.lower(),
            t.value,
            t.params,
            t.user_attrs.get("job"),
            t.user_attrs.get("epochs"),
        )
        for t in trials_of(sweep)
    ]


def best_row(sweep: Sweep, found: list[Row]) -> Row | None:
    done = [r for r in found if r.state == "complete" and r.value is not None]
    if not done:
        return None
    pick = min if sweep.metric == "val_loss" else max
    return pick(done, key=lambda r: r.value)  # type: ignore[arg-type, return-value]


def write_report(
    sweep: Sweep, workspace: Workspace | None = None, *, found: list[Row] | None = None
) -> list[Path]:
    """The table, the best recipe and the plots of ``sweep`` (from its trials ``found``, read
    if not given); the files written."""
    folder = (workspace or Workspace()).root / "sweeps" / sweep.name
    folder.mkdir(parents=True, exist_ok=True)
    found = rows(sweep) if found is None else found
    written = [_table(found, sweep, folder / TABLE)]
    best = best_row(sweep, found)
    if best is not None:
        recipe = trial_recipe(sweep, best.params)
        write_bytes_atomic(folder / BEST, recipe.to_yaml().encode())
        written.append(folder / BEST)
    if sum(r.state == "complete" for r in found) >= 2:
        written += _plots(sweep, folder)
    return written


def current_report(sweep: Sweep, workspace: Workspace | None = None) -> list[Row]:
    """The sweep's trials, its report written again only if they changed since it was."""
    found = rows(sweep)
    table = (workspace or Workspace()).root / "sweeps" / sweep.name / TABLE
    if not table.is_file() or table.read_bytes() != _table_bytes(found, sweep):
        write_report(sweep, workspace, found=found)
    return found


def importances(sweep: Sweep) -> dict[str, float]:
    """How much each parameter explains of the metric (fANOVA), over the complete trials."""
    study = optuna.load_study(study_name=sweep.name, storage=sweep.storage)
    trials = [t for t in trials_of(sweep) if t.state == TrialState.COMPLETE]
    if len(trials) < 2 or len({tuple(sorted(t.params.items())) for t in trials}) < 2:
        return {}
    with warnings.catch_warnings():  # Optuna warns when few trials make them all equal
        warnings.simplefilter("ignore", UserWarning)
        return optuna.importance.get_param_importances(study, evaluator=None)


def _table(found: list[Row], sweep: Sweep, path: Path) -> Path:
    write_bytes_atomic(path, _table_bytes(found, sweep))
    return path


def _table_bytes(found: list[Row], sweep: Sweep) -> bytes:
    names = [p.name for p in sweep.params]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["trial", "state", sweep.metric, *names, "epochs", "job"])
    for r in found:
        value = "" if r.value is None else f"{r.value:.6g}"
        params = [r.params.get(n, "") for n in names]
        writer.writerow([r.number, r.state, value, *params, r.epochs or "", r.job or ""])
    return buffer.getvalue().encode()


def _plots(sweep: Sweep, folder: Path) -> list[Path]:
    plt = pyplot()
    written = []
    weights = importances(sweep)
    if weights:
        figure, axes = plt.subplots(figsize=(6, 0.5 + 0.5 * len(weights)))
        names = list(weights)[::-1]
        axes.barh(names, [weights[n] for n in names], color="#3563e9")
        axes.set_xlabel(f"importance for {sweep.metric} (fANOVA)")
        figure.tight_layout()
        figure.savefig(folder / IMPORTANCE, dpi=100)
        plt.close(figure)
        written.append(folder / IMPORTANCE)
    study = optuna.load_study(study_name=sweep.name, storage=sweep.storage)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the matplotlib backend is "experimental"
        axes = optuna.visualization.matplotlib.plot_parallel_coordinate(study)
    axes.figure.set_size_inches(8, 4.5)
    axes.figure.tight_layout()
    axes.figure.savefig(folder / PARALLEL, dpi=100)
    plt.close(axes.figure)
    written.append(folder / PARALLEL)
    return written
