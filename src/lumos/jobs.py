"""Jobs: one run of work with a folder, a row in lumos.db and a state machine.

States: queued -> running -> done | failed | aborted. A job's folder holds what it wrote
(log, metrics, checkpoints); the row holds what front ends list.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol

from lumos.errors import NotFoundError, WorkspaceError
from lumos.fileio import process_alive, write_json_atomic
from lumos.workspace import Workspace, validate_name

State = Literal["queued", "running", "done", "failed", "aborted"]
TITLES = {  # how pages and lists name a job, from its parameters
    "train": "{network} on {dataset}",
    "import": "import {name}",
    "evaluate": "evaluate {model} on {dataset}",
    "optimize": "optimise {model} to {precision}",
    "save": "save {name} from job {job}",
    "rank": "rank models for {dataset}",
    "sweep": "sweep {sweep}",
}
FINAL: tuple[State, ...] = ("done", "failed", "aborted")
RESULT = "result.json"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass
class Job:
    id: str
    kind: str
    state: State
    params: dict[str, Any]
    folder: Path
    error: str | None = None
    _progress_written: float = field(default=0.0, repr=False, compare=False)

    @property
    def title(self) -> str:
        return job_title(self.kind, self.params)

    @property
    def log_path(self) -> Path:
        return self.folder / "log.txt"

    @property
    def progress_path(self) -> Path:
        return self.folder / "progress.json"

    def log(self, line: str) -> None:
        with self.log_path.open("a", encoding="utf-8") as f:
            f.write(f"{_now()} {line}\n")

    def report_progress(self, stage: str, done: int, total: int) -> None:
        """Record how far the job is, for front ends; written at most twice a second."""
        now = time.monotonic()
        if done < total and now - self._progress_written < 0.5:
            return
        self._progress_written = now
        write_json_atomic(self.progress_path, {"stage": stage, "done": done, "total": total})

    def read_progress(self) -> dict[str, Any] | None:
        return _read_json(self.progress_path)

    def record_result(self, result: dict[str, Any]) -> None:
        """What the job made, for front ends: names of what it made (``dataset``, ``model``,
        ``artefact``) and its headline figures."""
        write_json_atomic(self.folder / RESULT, result)

    def read_result(self) -> dict[str, Any] | None:
        return _read_json(self.folder / RESULT)


def job_title(kind: str, params: dict[str, Any]) -> str:
    """How pages and lists name a job: its run name where it was given one, else from its
    kind: "lenet5 on digits", "evaluate lenet on digits", ..."""
    return params.get("run_name") or TITLES.get(kind, kind).format_map(defaultdict(str, params))


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


class Work(Protocol):
    """What a job of one kind does, as typed parameters: a dataclass whose fields are the
    job's parameters in the store (:func:`queue_work`) and whose ``run`` a worker calls."""

    kind: ClassVar[str]

    def run(self, workspace: Workspace, job_id: str) -> None: ...


def queue_work(work: Work, workspace: Workspace) -> Job:
    """A new queued job that does ``work`` (a :class:`Work` dataclass)."""
    return create_job(workspace, work.kind, asdict(work))  # type: ignore[call-overload]


def work_of(job: Job, kinds: dict[str, type]) -> Work:
    """The typed parameters of ``job``, read back from the store as its kind's class (the
    store may keep more than the class reads: a training job's recipe)."""
    cls = kinds[job.kind]
    return cls(**{f.name: job.params[f.name] for f in fields(cls) if f.name in job.params})


def create_job(
    workspace: Workspace,
    kind: str,
    params: dict[str, Any],
    prepare: Callable[[Path], dict[str, Any]] | None = None,
) -> Job:
    """A new queued job; a runner (or the caller) runs it. ``prepare`` writes the job's
    files into its folder and returns its parameters before the job is in the store, so a
    runner never starts a job whose files are not all there yet."""
    workspace.ensure()
    job_id = f"{kind}-{datetime.now(timezone.utc):%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"
    folder = workspace.jobs_dir / job_id
    folder.mkdir(parents=True)
    if prepare is not None:
        params = prepare(folder)
    with workspace.db() as db:
        db.execute(
            "INSERT INTO jobs (id, kind, state, params, created) VALUES (?, ?, 'queued', ?, ?)",
            (job_id, kind, json.dumps(params), _now()),
        )
    return Job(job_id, kind, "queued", params, folder)


def reap_dead_jobs(workspace: Workspace) -> int:
    """Mark running jobs whose process is gone as failed, in the store and their logs;
    returns how many."""
    with workspace.db() as db:
        rows = db.execute("SELECT id, pid FROM jobs WHERE state = 'running'").fetchall()
        dead = [row for row in rows if row["pid"] is None or not process_alive(row["pid"])]
        for row in dead:
            error = f"the process running this job died (pid {row['pid']})"
            db.execute(
                "UPDATE jobs SET state = 'failed', error = ?, finished = ? WHERE id = ?",
                (error, _now(), row["id"]),
            )
            folder = workspace.jobs_dir / row["id"]
            if folder.is_dir():
                Job(row["id"], "", "failed", {}, folder).log(f"state failed: {error}")
    return len(dead)


DATASET_PARAMS = ("dataset", "calibrate")
"""Job parameters that name a dataset the job reads."""


def active_jobs_using(workspace: Workspace, dataset: str) -> list[str]:
    """Ids of the queued and running jobs that read dataset ``dataset``."""
    reap_dead_jobs(workspace)
    with workspace.db() as db:
        rows = db.execute(
            "SELECT id, params FROM jobs WHERE state IN ('queued', 'running') ORDER BY created"
        ).fetchall()
    return [
        row["id"]
        for row in rows
        if any(json.loads(row["params"]).get(key) == dataset for key in DATASET_PARAMS)
    ]


def open_job(workspace: Workspace, job_id: str) -> Job:
    validate_name(job_id, "job id")
    reap_dead_jobs(workspace)
    with workspace.db() as db:
        row = db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"no job {job_id!r} (see `lumos jobs`)")
    return Job(
        row["id"],
        row["kind"],
        row["state"],
        json.loads(row["params"]),
        workspace.jobs_dir / job_id,
        row["error"],
    )


def set_state(workspace: Workspace, job: Job, state: State, error: str | None = None) -> None:
    """Move ``job`` to ``state``; running records the pid, final states the end time."""
    stamp = {"running": "started", **dict.fromkeys(FINAL, "finished")}.get(state)
    with workspace.db() as db:
        db.execute(
            "UPDATE jobs SET state = ?, error = ?, pid = ?"
            + (f", {stamp} = ?" if stamp else "")
            + " WHERE id = ?",
            (
                state,
                error,
                os.getpid() if state == "running" else None,
                *([_now()] if stamp else []),
                job.id,
            ),
        )
        if db.total_changes == 0:
            raise WorkspaceError(f"job {job.id} vanished from the store")
    if state == "done":  # a job that reported no progress (or not its last step) is complete
        progress = job.read_progress() or {"stage": job.kind, "total": 1}
        job.report_progress(progress["stage"], progress["total"], progress["total"])
    job.state, job.error = state, error
    job.log(f"state {state}" + (f": {error}" if error else ""))


def list_jobs(workspace: Workspace) -> list[dict[str, Any]]:
    reap_dead_jobs(workspace)
    with workspace.db() as db:
        rows = db.execute("SELECT * FROM jobs ORDER BY created DESC, rowid DESC").fetchall()
    return [dict(row) for row in rows]


def job_record(workspace: Workspace, job_id: str) -> dict[str, Any]:
    """A job's row in the store (a job whose process died is marked failed first)."""
    open_job(workspace, job_id)
    with workspace.db() as db:
        return dict(db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone())


def find_jobs(
    workspace: Workspace, kind: str, *, state: State | None = None, **params: Any
) -> list[dict[str, Any]]:
    """The rows of jobs of ``kind`` (in ``state``) whose parameters include ``params``,
    newest first: e.g. the finished evaluations of a model."""
    return [
        row
        for row in list_jobs(workspace)
        if row["kind"] == kind
        and (state is None or row["state"] == state)
        and all(json.loads(row["params"]).get(k) == v for k, v in params.items())
    ]


@contextlib.contextmanager
def running_job(
    workspace: Workspace, kind: str, params: dict[str, Any], job_id: str | None = None
) -> Iterator[Job]:
    """Run the body as job ``job_id`` (a queued job) or as a new job of ``kind``.

    The job is running inside the body, done after it, aborted on Ctrl-C and failed on any
    other error; a body that set a final state itself keeps it.
    """
    job = open_job(workspace, job_id) if job_id else create_job(workspace, kind, params)
    if job.kind != kind:
        raise WorkspaceError(f"job {job.id} is a {job.kind} job, not {kind}")
    set_state(workspace, job, "running")
    try:
        yield job
    except BaseException as e:
        if job.state == "running":
            state: State = "aborted" if isinstance(e, KeyboardInterrupt) else "failed"
            set_state(workspace, job, state, str(e) or type(e).__name__)
        raise
    set_state(workspace, job, "done")


def claim_job(workspace: Workspace, job_id: str) -> Job | None:
    """Take queued job ``job_id`` for this process; None when another process took it first."""
    with workspace.db() as db:
        db.execute(
            "UPDATE jobs SET state = 'running', pid = ?, started = ? "
            "WHERE id = ? AND state = 'queued'",
            (os.getpid(), _now(), job_id),
        )
        if db.total_changes == 0:
            return None
    job = open_job(workspace, job_id)
    job.log(f"state running (worker pid {os.getpid()})")
    return job


def abort_job(workspace: Workspace, job_id: str) -> Job:
    """Abort a queued job at once; ask a running one to stop (Ctrl-C: it saves and ends)."""
    job = open_job(workspace, job_id)
    if job.state == "queued":
        set_state(workspace, job, "aborted", "aborted before it started")
    elif job.state == "running":
        with workspace.db() as db:
            pid = db.execute("SELECT pid FROM jobs WHERE id = ?", (job_id,)).fetchone()["pid"]
        if pid == os.getpid():
            raise WorkspaceError(f"job {job_id} runs in this process: stop it with Ctrl-C")
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGINT)
        job.log("abort requested")
    else:
        raise WorkspaceError(f"job {job_id} is already {job.state}")
    return job


def delete_job(workspace: Workspace, job_id: str) -> None:
    """Remove a finished job's row and folder; a queued or running job must be aborted first."""
    job = open_job(workspace, job_id)
    if job.state not in FINAL:
        raise WorkspaceError(f"job {job_id} is {job.state}: abort it before deleting it")
    with workspace.db() as db:
        db.execute("DELETE FROM jobs WHERE id = ?", (job_id,))
    shutil.rmtree(job.folder, ignore_errors=True)
