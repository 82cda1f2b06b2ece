"""A sweep as a job: started from the workbench, its trials run by a worker, followed on the
sweep's page."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic.dataclasses import dataclass as validated

from lumos.data import Dataset
from lumos.jobs import Job, queue_work, running_job
from lumos.pretrained.init import with_network
from lumos.recipe import Recipe
from lumos.sweep.report import best_row, rows, write_report
from lumos.sweep.study import create_sweep, open_sweep, work_on
from lumos.train.run import check_recipe
from lumos.workspace import Workspace


@validated(frozen=True)
class SweepJob:
    """:func:`~lumos.sweep.study.work_on` sweep ``sweep`` (in the workspace's study
    database) in a worker, until it has its trials; then its report."""

    kind: ClassVar[str] = "sweep"
    sweep: str

    def run(self, workspace: Workspace, job_id: str) -> None:
        with running_job(workspace, self.kind, {}, job_id) as job:
            sweep = open_sweep(self.sweep, None, workspace)
            job.report_progress("trials", 0, sweep.trials)
            ran = work_on(
                sweep, workspace, progress=lambda d, t: job.report_progress("trials", d, t)
            )
            found = rows(sweep)
            write_report(sweep, workspace, found=found)
            best = best_row(sweep, found)
            job.record_result(
                {"sweep": sweep.name, "trials": ran}
                | ({sweep.metric: best.value} if best is not None else {})
            )


def queue_sweep(
    recipe: Recipe, params: list[str], *, name: str, workspace: Workspace, **options: Any
) -> Job:
    """A new sweep in the workspace's study database (:func:`create_sweep`, with its
    ``options``: trials, sampler, pruner; refused before anything is stored if it cannot be
    made or its base recipe could not train) and the queued job that runs its trials."""
    check_recipe(with_network(recipe), Dataset.open(recipe.dataset, workspace))
    create_sweep(recipe, params, name=name, workspace=workspace, **options)
    return queue_work(SweepJob(name), workspace)
