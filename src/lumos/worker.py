"""``python -m lumos.worker JOB_ID``: run one queued job in this process.

A :class:`~lumos.runner.JobRunner` starts one worker per job, so a job that crashes or is
killed takes only its own process down; its state, log and outputs stay in the workspace.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Callable

from lumos.data.importer import import_dataset
from lumos.data.options import ImportOptions
from lumos.deploy.optimize import run_optimization
from lumos.errors import LumosError, Stopped
from lumos.evaluate.run import run_evaluation
from lumos.jobs import Job, claim_job, open_job, set_state
from lumos.label import LabelProject, prelabel
from lumos.train.run import train
from lumos.workspace import Workspace


def _import(workspace: Workspace, job: Job) -> None:
    p = job.params
    try:
        import_dataset(
            p["source"],
            p["name"],
            ImportOptions(**p["options"]),
            workspace=workspace,
            overwrite=p.get("overwrite", False),
            job_id=job.id,
        )
    finally:
        if p.get("upload"):  # an unpacked upload: the dataset holds its images now
            shutil.rmtree(p["upload"], ignore_errors=True)


def _train(workspace: Workspace, job: Job) -> None:
    train(resume=job.id, workspace=workspace, progress=False)


def _evaluate(workspace: Workspace, job: Job) -> None:
    p = job.params
    run_evaluation(p["model"], p["dataset"], p["split"], workspace=workspace, job_id=job.id)


def _optimize(workspace: Workspace, job: Job) -> None:
    run_optimization(**job.params, workspace=workspace, job_id=job.id)


def _prelabel(workspace: Workspace, job: Job) -> None:
    p = job.params
    prelabel(
        LabelProject.open(p["project"], workspace), p["model"], workspace=workspace, job_id=job.id
    )


RUNNERS: dict[str, Callable[[Workspace, Job], None]] = {
    "import": _import,
    "prelabel": _prelabel,
    "train": _train,
    "evaluate": _evaluate,
    "optimize": _optimize,
}


def run_job(workspace: Workspace, job_id: str) -> int:
    """Run queued job ``job_id``; 0 when it ended done (or another worker took it)."""
    job = claim_job(workspace, job_id)
    if job is None:
        return 0
    if job.kind not in RUNNERS:
        set_state(workspace, job, "failed", f"lumos cannot run {job.kind} jobs in a worker")
        return 1
    try:
        RUNNERS[job.kind](workspace, job)
    except Stopped:  # aborted: the job says so and how to resume it
        return 130
    except LumosError as e:
        _record_failure(workspace, job, str(e))
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as e:
        _record_failure(workspace, job, f"internal error: {type(e).__name__}: {e}")
        raise  # the traceback goes to the job's output.txt
    return 0


def _record_failure(workspace: Workspace, job: Job, reason: str) -> None:
    """Give the job the real reason when it failed before its own body could (a name that
    exists, a full disk); a job that recorded its end keeps it."""
    if open_job(workspace, job.id).state == "running":
        set_state(workspace, job, "failed", reason)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lumos.worker", description=__doc__)
    parser.add_argument("job_id")
    parser.add_argument("--home", help="workspace folder (default: LUMOS_HOME)")
    args = parser.parse_args(argv)
    return run_job(Workspace(args.home), args.job_id)


if __name__ == "__main__":
    sys.exit(main())
