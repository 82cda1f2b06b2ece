"""Jobs: list, inspect, follow live, abort, delete, clone; the files a job wrote."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, StreamingResponse

from lumos.errors import NotFoundError
from lumos.jobs import Job, abort_job, delete_job, job_record, list_jobs, open_job
from lumos.train.callbacks import METRICS, read_metrics
from lumos.web.api.common import settings_of, state_of
from lumos.web.events import job_events
from lumos.web.state import ServerState
from lumos.workspace import validate_name

router = APIRouter()
REPORT_TYPES = (".png", ".csv", ".json")


def job_row(state: ServerState, job_id: str) -> dict[str, Any]:
    return describe_job(state, job_record(state.settings.workspace, job_id))


def queued_row(request: Request, job_id: str) -> dict[str, Any]:
    """The row of a job this request queued, the runner woken to start it."""
    runner = request.app.state.runner
    if runner is not None:
        runner.wake()
    return job_row(state_of(request), job_id)


def describe_job(state: ServerState, row: dict[str, Any]) -> dict[str, Any]:
    """A job's row as the pages show it: a title, its progress and, for training, its score."""
    params = json.loads(row["params"])
    folder = state.settings.workspace.jobs_dir / row["id"]
    job = Job(row["id"], row["kind"], row["state"], params, folder)
    described = {k: v for k, v in row.items() if k != "pid"} | {"params": params}
    described["progress"] = job.read_progress()
    described["result"] = job.read_result()
    described["title"] = job.title
    if row["kind"] == "train":
        described["summary"] = state.summary(job)
    return described


@router.get("/jobs")
def jobs(request: Request) -> list[dict[str, Any]]:
    settings = settings_of(request)
    return [describe_job(state_of(request), row) for row in list_jobs(settings.workspace)]


@router.get("/jobs/{job_id}")
def job_detail(request: Request, job_id: str) -> dict[str, Any]:
    return job_row(state_of(request), job_id)


@router.get("/jobs/{job_id}/metrics")
def job_metrics(
    request: Request, job_id: str, since: Annotated[int, Query(ge=0)] = 0
) -> list[dict[str, Any]]:
    """Training records from line ``since`` on (step records and epoch records)."""
    job = open_job(settings_of(request).workspace, job_id)
    return read_metrics(job.folder / METRICS)[since:]


@router.get("/jobs/{job_id}/log")
def job_log(
    request: Request, job_id: str, lines: Annotated[int, Query(ge=1, le=5000)] = 200
) -> dict[str, list[str]]:
    job = open_job(settings_of(request).workspace, job_id)
    return {"log": tail(job.log_path, lines), "output": tail(job.folder / "output.txt", lines)}


@router.get("/jobs/{job_id}/events")
async def job_stream(request: Request, job_id: str) -> StreamingResponse:
    """Server-sent events: new metrics, progress, log lines and state changes, live."""
    job = open_job(settings_of(request).workspace, job_id)
    return StreamingResponse(
        job_events(request, settings_of(request).workspace, job),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.post("/jobs/{job_id}/abort")
def job_abort(request: Request, job_id: str) -> dict[str, Any]:
    settings = settings_of(request)
    abort_job(settings.workspace, job_id)
    return job_row(state_of(request), job_id)


@router.delete("/jobs/{job_id}")
def job_delete(request: Request, job_id: str) -> dict[str, str]:
    delete_job(settings_of(request).workspace, job_id)
    return {"deleted": job_id}


@router.get("/jobs/{job_id}/clone")
def job_clone(request: Request, job_id: str) -> dict[str, Any]:
    """What a new job like this one starts from: its kind and parameters (a recipe's YAML)."""
    job = open_job(settings_of(request).workspace, job_id)
    clone: dict[str, Any] = {"kind": job.kind, "params": job.params}
    if job.kind == "train":
        clone["yaml"] = (job.folder / "recipe.yaml").read_text(encoding="utf-8")
    return clone


@router.get("/jobs/{job_id}/report")
def job_report(request: Request, job_id: str) -> dict[str, list[str]]:
    """The names of the pictures, CSV and JSON files a job wrote (an evaluation's report)."""
    return {"files": report_files(open_job(settings_of(request).workspace, job_id).folder)}


def report_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_file() and p.suffix in REPORT_TYPES)


@router.get("/jobs/{job_id}/files/{file_name}")
def job_file(request: Request, job_id: str, file_name: str) -> FileResponse:
    """A picture, CSV or JSON a job wrote (its report), by name."""
    job = open_job(settings_of(request).workspace, job_id)
    validate_name(file_name, "file name")
    path = job.folder / file_name
    if not path.is_file() or path.suffix not in REPORT_TYPES:
        raise NotFoundError(f"job {job_id} has no file {file_name!r}")
    return FileResponse(path)


def tail(path: Path, lines: int) -> list[str]:
    try:
        with path.open("rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - 200 * lines))
            text = f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return []
    return text.splitlines()[-lines:]
