from lumos.jobs import create_job, list_jobs, open_job, set_state
from lumos.workspace import Workspace


def test_job_states_and_log(workspace: Workspace) -> None:
    job = create_job(workspace, "train", {"epochs": 3})
    assert job.folder.is_dir() and open_job(workspace, job.id).state == "queued"
    set_state(workspace, job, "running")
    set_state(workspace, job, "done")
    row = list_jobs(workspace)[0]
    assert (row["state"], row["started"] is not None, row["finished"] is not None) == (
        "done",
        True,
        True,
    )
    assert "state running" in job.log_path.read_text() and "state done" in job.log_path.read_text()


def test_a_job_whose_process_died_is_marked_failed(workspace: Workspace) -> None:
    job = create_job(workspace, "import", {})
    with workspace.db() as db:
        db.execute("UPDATE jobs SET state = 'running', pid = 999999999 WHERE id = ?", (job.id,))
    reaped = open_job(workspace, job.id)
    assert (
        reaped.state == "failed"
        and reaped.error == "the process running this job died (pid 999999999)"
    )
