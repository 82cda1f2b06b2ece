"""``lumos.evaluate(model, dataset, split)``: an evaluation as a job, its report in the folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from lumos.bundle import Bundle
from lumos.data import Dataset, list_datasets
from lumos.data.records import SPLITS
from lumos.errors import DataError
from lumos.jobs import Job, queue_work, running_job
from lumos.tasks.report import Report
from lumos.workspace import Workspace, validate_name


def run_evaluation(
    model: str | Path,
    dataset: str,
    split: str = "test",
    *,
    out: Path | None = None,
    workspace: Workspace | None = None,
    trust_code: bool = False,
    job_id: str | None = None,
) -> tuple[Report, Path]:
    """Evaluate bundle ``model`` on ``split`` of ``dataset``; the report goes to ``out`` or the
    job's folder. ``job_id`` names a queued evaluation job to run; by default it is a new job."""
    workspace = (workspace or Workspace()).ensure()
    bundle, data = _checked(model, dataset, split, workspace)
    params = {"model": str(model), "dataset": dataset, "split": split}
    with running_job(workspace, "evaluate", params, job_id) as job:
        report = bundle.task.evaluate(bundle, data, split, out or job.folder, trust_code=trust_code)
        job.record_result({**params, **report.metrics})
    return report, out or job.folder


def queue_evaluation(
    model: str, dataset: str, split: str = "test", *, workspace: Workspace | None = None
) -> Job:
    """A queued evaluation job for a runner, refused up front if it could not run."""
    workspace = (workspace or Workspace()).ensure()
    _checked(validate_name(model, "model name"), dataset, split, workspace)
    return queue_work(EvaluateJob(model, dataset, split), workspace)


@dataclass(frozen=True)
class EvaluateJob:
    """Evaluate saved model ``model`` on ``split`` of ``dataset``, in a worker."""

    kind: ClassVar[str] = "evaluate"
    model: str
    dataset: str
    split: str = "test"

    def run(self, workspace: Workspace, job_id: str) -> None:
        run_evaluation(self.model, self.dataset, self.split, workspace=workspace, job_id=job_id)


def _checked(
    model: str | Path, dataset: str, split: str, workspace: Workspace
) -> tuple[Bundle, Dataset]:
    """The bundle and the dataset of an evaluation, checked to fit each other."""
    if split not in SPLITS:
        raise DataError(None, f"unknown split {split!r}: choose from {', '.join(SPLITS)}")
    bundle = Bundle.load(model, workspace)
    data = Dataset.open(dataset, workspace)
    check_fit(bundle, data, workspace)
    return bundle, data


def check_fit(bundle: Bundle, dataset: Dataset, workspace: Workspace) -> None:
    """Refuse a dataset that a model of its task cannot be scored on, naming those that fit."""
    task = bundle.task
    if task.fits(dataset):
        return
    fitting = [
        row["name"]
        for row in list_datasets(workspace)
        if task.fits(Dataset.open(row["name"], workspace))
    ]
    hint = (
        f"datasets that fit: {', '.join(fitting)}"
        if fitting
        else f"import a dataset with {task.needs}"
    )
    raise DataError(
        None,
        f"model {bundle.name!r} is a {task.noun} and dataset {dataset.name!r} has no "
        f"{task.needs}; {hint}",
    )
