from lumos.data.import_job import ImportJob
from lumos.deploy.from_job import SaveModelJob
from lumos.deploy.optimize import OptimizeJob
from lumos.evaluate.run import EvaluateJob
from lumos.jobs import (
    create_job,
    find_jobs,
    job_record,
    list_jobs,
    open_job,
    queue_work,
    set_state,
    work_of,
)
from lumos.label.prelabel import PrelabelJob
from lumos.sweep.job import SweepJob
from lumos.transfer.job import RankJob
from lumos.worker import KINDS
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


def test_every_kind_of_work_is_stored_and_read_back_as_itself(workspace: Workspace) -> None:
    """A job's typed parameters survive the store, whoever queued them (web, CLI, test)."""
    works = [
        ImportJob("sample:digits", "d", {"val_percent": 20.0}, overwrite=True, upload="/tmp/u"),
        PrelabelJob("project", "model"),
        EvaluateJob("model", "d", "val"),
        OptimizeJob("model", precision="fp16", prune=0.3, pruning="channels", finetune=2),
        SaveModelJob("train-1", "net", overwrite=True),
        RankJob("d", ["a", "b"], ["resnet18"], "key"),
        SweepJob("sweep"),
    ]
    assert {type(w).kind for w in works} | {"train"} == set(KINDS)
    for work in works:
        job = open_job(workspace, queue_work(work, workspace).id)
        assert job.kind == work.kind and job.state == "queued"
        assert work_of(job, KINDS) == work
