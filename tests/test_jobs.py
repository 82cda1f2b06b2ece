from lumos.jobs import create_job, find_jobs, job_record, list_jobs, open_job, set_state
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


def test_a_job_is_stored_only_once_its_files_are_written(workspace: Workspace) -> None:
    seen_while_preparing = []

    def prepare(folder):
        (folder / "recipe.yaml").write_text("network: lenet5\n")
        seen_while_preparing.extend(list_jobs(workspace))
        return {"network": "lenet5", "dataset": "digits"}

    job = create_job(workspace, "train", {}, prepare)
    assert seen_while_preparing == []  # a runner polling the store could not see it yet
    assert open_job(workspace, job.id).params == {"network": "lenet5", "dataset": "digits"}
    assert (job.folder / "recipe.yaml").is_file() and job.title == "lenet5 on digits"


def test_finding_jobs_by_kind_state_and_parameters(workspace: Workspace) -> None:
    done = create_job(workspace, "evaluate", {"model": "a", "dataset": "d"})
    set_state(workspace, done, "done")
    create_job(workspace, "evaluate", {"model": "a", "dataset": "d"})  # still queued
    create_job(workspace, "evaluate", {"model": "b", "dataset": "d"})
    found = find_jobs(workspace, "evaluate", state="done", model="a")
    assert [row["id"] for row in found] == [done.id]
    assert len(find_jobs(workspace, "evaluate", dataset="d")) == 3
    assert job_record(workspace, done.id)["state"] == "done"
