"""Queued jobs run in worker processes: limits, abort, death, restarts, claiming."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from helpers import colour_folders
from lumos.data import Dataset, import_dataset
from lumos.errors import WorkspaceError
from lumos.jobs import abort_job, claim_job, create_job, delete_job, list_jobs, open_job
from lumos.runner import JobRunner
from lumos.threads import cores, share
from lumos.train import Recipe
from lumos.train.run import queue_training
from lumos.worker import run_job
from lumos.workspace import Workspace


def _import_params(source: Path, name: str = "colours") -> dict:
    return {"source": str(source), "name": name, "options": {"val_percent": 25, "test_percent": 0}}


def _recipe(epochs: int = 2) -> Recipe:
    return Recipe(
        dataset="colours", network="lenet5", epochs=epochs, batch_size=4, lr=0.05, workers=0
    )


def _wait_for(predicate, timeout: float = 600.0) -> None:  # a deadline for a hang only
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.1)


def test_runner_runs_queued_import_then_training_in_worker_processes(
    tmp_path: Path, workspace: Workspace
) -> None:
    source = colour_folders(tmp_path / "src")
    job = create_job(workspace, "import", _import_params(source))
    runner = JobRunner(workspace)
    assert runner.tick() == [job.id]
    assert runner.tick() == []  # started once, not twice
    runner.wait()
    assert open_job(workspace, job.id).state == "done"
    assert len(Dataset.open("colours", workspace)) == 36
    assert open_job(workspace, job.id).read_progress()["done"] == 36

    training = queue_training(_recipe(), workspace)
    assert runner.tick() == [training.id]
    runner.wait()
    done = open_job(workspace, training.id)
    assert done.state == "done", (done.folder / "output.txt").read_text()
    assert (done.folder / "checkpoints" / "last.pt").is_file()
    progress = done.read_progress()
    assert progress["done"] == progress["total"] > 0


def test_one_training_job_at_a_time_oldest_first(tmp_path: Path, workspace: Workspace) -> None:
    import_dataset(colour_folders(tmp_path / "src"), "colours", workspace=workspace)
    first, second = queue_training(_recipe(1), workspace), queue_training(_recipe(1), workspace)
    other = create_job(workspace, "import", _import_params(tmp_path / "src", "again"))
    runner = JobRunner(workspace, max_training=1)
    assert runner.tick() == [first.id, other.id]  # the import does not wait for training
    runner.wait()
    log = (workspace.jobs_dir / first.id / "log.txt").read_text()
    assert f"threads: {share(2)} (the job runner's share of {cores()} cores)" in log
    assert runner.tick() == [second.id]
    runner.wait()
    assert {row["state"] for row in list_jobs(workspace)} == {"done"}


def test_worker_claims_a_job_once(tmp_path: Path, workspace: Workspace) -> None:
    job = create_job(workspace, "import", _import_params(tmp_path))
    assert claim_job(workspace, job.id) is not None
    assert claim_job(workspace, job.id) is None
    assert run_job(workspace, job.id) == 0  # taken: the second worker leaves it


def test_failed_job_keeps_its_error(tmp_path: Path, workspace: Workspace) -> None:
    job = create_job(workspace, "import", _import_params(tmp_path / "missing"))
    assert run_job(workspace, job.id) == 1
    failed = open_job(workspace, job.id)
    assert failed.state == "failed"
    assert "missing" in failed.error
    unknown = create_job(workspace, "teleport", {})
    assert run_job(workspace, unknown.id) == 1
    assert open_job(workspace, unknown.id).error == "lumos cannot run teleport jobs in a worker"


def test_abort_queued_and_running_jobs(tmp_path: Path, workspace: Workspace) -> None:
    import_dataset(colour_folders(tmp_path / "src", per_class=40), "colours", workspace=workspace)
    queued = queue_training(_recipe(), workspace)
    assert abort_job(workspace, queued.id).state == "aborted"
    with pytest.raises(WorkspaceError, match="already aborted"):
        abort_job(workspace, queued.id)

    long = queue_training(_recipe(epochs=200), workspace)
    runner = JobRunner(workspace)
    runner.tick()
    _wait_for(lambda: (long.folder / "metrics.jsonl").is_file())
    abort_job(workspace, long.id)
    runner.wait()
    aborted = open_job(workspace, long.id)
    assert aborted.state == "aborted"
    assert "resume with" in aborted.error
    assert (aborted.folder / "checkpoints" / "last.pt").is_file()


def test_dead_worker_marks_job_failed_and_keeps_log(tmp_path: Path, workspace: Workspace) -> None:
    import_dataset(colour_folders(tmp_path / "src", per_class=40), "colours", workspace=workspace)
    job = queue_training(_recipe(epochs=200), workspace)
    runner = JobRunner(workspace)
    runner.tick()
    _wait_for(lambda: job.log_path.is_file())  # claimed and logged: now kill it
    with workspace.db() as db:
        pid = db.execute("SELECT pid FROM jobs WHERE id = ?", (job.id,)).fetchone()["pid"]
    os.kill(pid, signal.SIGKILL)
    runner.wait()
    runner.tick()  # reaps the dead worker
    dead = open_job(workspace, job.id)
    assert dead.state == "failed"
    assert f"died (pid {pid})" in dead.error
    log = dead.log_path.read_text()
    assert (
        "state running (worker pid" in log
        and f"state failed: the process running this job died (pid {pid})" in log
    )


SERVER = """
import sys, time
from lumos.jobs import open_job
from lumos.runner import JobRunner
from lumos.workspace import Workspace
workspace = Workspace(sys.argv[1])
runner = JobRunner(workspace)
runner.tick()
while open_job(workspace, sys.argv[2]).state != "running":
    time.sleep(0.05)
runner.stop()
"""


def test_a_server_that_ends_leaves_its_running_job_running(
    tmp_path: Path, workspace: Workspace
) -> None:
    """A process that started a job and then ends (a `lumos ui` stopped) neither waits for
    the job nor takes it down: the job goes on until it is aborted."""
    import_dataset(colour_folders(tmp_path / "src", per_class=40), "colours", workspace=workspace)
    long = queue_training(_recipe(epochs=5000), workspace)
    said = tmp_path / "server.txt"  # a file: a pipe would stay open in the job's processes
    with said.open("w") as output:
        server = subprocess.run([sys.executable, "-c", SERVER, str(workspace.root), long.id],
                                stdout=output, stderr=subprocess.STDOUT, timeout=600)  # fmt: skip
    assert server.returncode == 0, said.read_text()
    assert open_job(workspace, long.id).state == "running"  # not waited for, not ended
    _wait_for(lambda: (long.folder / "metrics.jsonl").is_file())
    abort_job(workspace, long.id)
    _wait_for(lambda: open_job(workspace, long.id).state == "aborted")


def test_queue_survives_a_restart(tmp_path: Path, workspace: Workspace) -> None:
    job = create_job(workspace, "import", _import_params(colour_folders(tmp_path / "src")))
    JobRunner(workspace)  # a server that stopped before starting anything
    restarted = JobRunner(Workspace(workspace.root))
    assert restarted.tick() == [job.id]
    restarted.wait()
    assert open_job(workspace, job.id).state == "done"


def test_delete_only_finished_jobs(tmp_path: Path, workspace: Workspace) -> None:
    job = create_job(workspace, "import", _import_params(tmp_path))
    with pytest.raises(WorkspaceError, match="abort it before deleting"):
        delete_job(workspace, job.id)
    abort_job(workspace, job.id)
    delete_job(workspace, job.id)
    assert not job.folder.exists()
    assert list_jobs(workspace) == []


def test_two_imports_of_one_name_queued_together_the_loser_says_why(
    tmp_path: Path, workspace: Workspace
) -> None:
    source = colour_folders(tmp_path / "src")
    jobs = [create_job(workspace, "import", _import_params(source)) for _ in range(2)]
    runner = JobRunner(workspace, max_other=2)
    assert runner.tick() == [job.id for job in jobs]
    runner.wait()
    ends = sorted(
        (open_job(workspace, job.id).state, open_job(workspace, job.id).error) for job in jobs
    )
    assert ends[0] == ("done", None)
    assert ends[1][0] == "failed" and "dataset 'colours' already exists" in ends[1][1]


def test_a_dataset_in_use_is_kept_and_a_finished_run_saves_without_it(
    tmp_path: Path, workspace: Workspace
) -> None:
    from lumos.data import remove_dataset
    from lumos.deploy import Bundle
    from lumos.deploy.from_job import bundle_from_job
    from lumos.train import train

    import_dataset(colour_folders(tmp_path / "src"), "colours", workspace=workspace)
    job = queue_training(_recipe(1), workspace)
    with pytest.raises(WorkspaceError, match=f"dataset 'colours' is used by {job.id}"):
        remove_dataset("colours", workspace)
    assert len(Dataset.open("colours", workspace)) == 36
    train(resume=job.id, workspace=workspace, progress=False)
    remove_dataset("colours", workspace)
    bundle = Bundle.load(bundle_from_job(job.id, "colours-lenet", workspace=workspace))
    assert bundle.labels == ["blue", "green", "red"]
    assert bundle.meta.provenance["dataset"] == "colours"
    assert len(bundle.predict([np.zeros((12, 12, 3), np.uint8)])) == 1
