"""A job as a stream of server-sent events, read from the files its process writes.

Events: ``metrics`` (new lines of its metrics log), ``progress``, ``log`` (new log lines)
and ``state``. The stream polls twice a second and ends after the job ends.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import Request

from lumos.jobs import FINAL, Job, open_job
from lumos.train.callbacks import METRICS, read_metrics
from lumos.workspace import Workspace

POLL_SECONDS = 0.5
HEARTBEAT_POLLS = 30


def _event(name: str, data: Any) -> str:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n"


async def job_events(request: Request, workspace: Workspace, job: Job) -> AsyncIterator[str]:
    sent_metrics, sent_log, last_state, last_progress = 0, 0, None, None
    quiet = 0
    while True:
        current = await asyncio.to_thread(open_job, workspace, job.id)
        chunks = []
        records = read_metrics(job.folder / METRICS)
        if len(records) > sent_metrics:
            chunks.append(_event("metrics", records[sent_metrics:]))
            sent_metrics = len(records)
        progress = current.read_progress()
        if progress != last_progress:
            last_progress = progress
            chunks.append(_event("progress", progress))
        lines = _lines(job)
        if len(lines) > sent_log:
            chunks.append(_event("log", lines[sent_log:]))
            sent_log = len(lines)
        # The state goes last: a client that stops at "done" has had every record before it.
        if (current.state, current.error) != last_state:
            last_state = (current.state, current.error)
            chunks.append(_event("state", {"state": current.state, "error": current.error}))
        quiet = 0 if chunks else quiet + 1
        if quiet >= HEARTBEAT_POLLS:  # a comment keeps proxies from closing an idle stream
            chunks.append(": still here\n\n")
            quiet = 0
        for chunk in chunks:
            yield chunk
        if current.state in FINAL or await request.is_disconnected():
            return
        await asyncio.sleep(POLL_SECONDS)


def _lines(job: Job) -> list[str]:
    try:
        return job.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return []
