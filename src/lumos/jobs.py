"""Jobs: one run of work with a folder, a row in lumos.db and a state machine.

States: queued -> running -> done | failed | aborted. A job's folder holds what it wrote
(log, metrics, checkpoints); the row holds what front ends list.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from lumos.errors import NotFoundError, WorkspaceError
from lumos.fileio import process_alive
from lumos.workspace import Workspace, validate_name

State = Literal["queued", "running", "done", "failed", "aborted"]
FINAL: tuple[State, ...] = ("done", "failed", "aborted")


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

    @property
    def log_path(self) -> Path:
        return self.folder / "log.txt"

    def log(self, line: str) -> None:
        with self.log_path.open("a", encoding="utf-8") as f:
            f.write(f"{_now()} {line}\n")


def create_job(workspace: Workspace, kind: str, params: dict[str, Any]) -> Job:
    """A new queued job with an empty folder."""
    workspace.ensure()
    job_id = f"{kind}-{datetime.now(timezone.utc):%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"
    folder = workspace.jobs_dir / job_id
    folder.mkdir(parents=True)
    with workspace.db() as db:
        db.execute(
            "INSERT INTO jobs (id, kind, state, params, created) VALUES (?, ?, 'queued', ?, ?)",
            (job_id, kind, json.dumps(params), _now()),
        )
    return Job(job_id, kind, "queued", params, folder)


def reap_dead_jobs(workspace: Workspace) -> int:
    """Mark running jobs whose process is gone as failed; returns how many."""
    with workspace.db() as db:
        rows = db.execute("SELECT id, pid FROM jobs WHERE state = 'running'").fetchall()
        dead = [row for row in rows if row["pid"] is None or not process_alive(row["pid"])]
        for row in dead:
            db.execute(
                "UPDATE jobs SET state = 'failed', error = ?, finished = ? WHERE id = ?",
                (f"the process running this job died (pid {row['pid']})", _now(), row["id"]),
            )
    return len(dead)


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
    job.state, job.error = state, error
    job.log(f"state {state}" + (f": {error}" if error else ""))


def list_jobs(workspace: Workspace) -> list[dict[str, Any]]:
    reap_dead_jobs(workspace)
    with workspace.db() as db:
        rows = db.execute("SELECT * FROM jobs ORDER BY created DESC, rowid DESC").fetchall()
    return [dict(row) for row in rows]
