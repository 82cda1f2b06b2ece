"""``python -m lumos.worker JOB_ID``: run one queued job in this process.

A :class:`~lumos.runner.JobRunner` starts one worker per job, so a job that crashes or is
killed takes only its own process down; its state, log and outputs stay in the workspace.
"""

from __future__ import annotations

import argparse
import sys

from lumos.data.import_job import ImportJob
from lumos.deploy.from_job import SaveModelJob
from lumos.deploy.optimize import OptimizeJob
from lumos.errors import LumosError, Stopped
from lumos.evaluate.run import EvaluateJob
from lumos.jobs import Job, claim_job, open_job, set_state, work_of
from lumos.label.prelabel import PrelabelJob
from lumos.sweep.job import SweepJob
from lumos.train.run import TrainJob
from lumos.transfer.job import RankJob
from lumos.workspace import Workspace

KINDS: dict[str, type] = {
    work.kind: work
    for work in (
        ImportJob,
        PrelabelJob,
        TrainJob,
        EvaluateJob,
        OptimizeJob,
        SaveModelJob,
        RankJob,
        SweepJob,
    )
}


def run_job(workspace: Workspace, job_id: str) -> int:
    """Run queued job ``job_id``; 0 when it ended done (or another worker took it)."""
    job = claim_job(workspace, job_id)
    if job is None:
        return 0
    if job.kind not in KINDS:
        set_state(workspace, job, "failed", f"lumos cannot run {job.kind} jobs in a worker")
        return 1
    try:
        work_of(job, KINDS).run(workspace, job.id)
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
