"""A job as a stream of server-sent events, read from the files its process writes.

Events: ``metrics`` (new lines of its metrics log), ``progress``, ``log`` (new log lines)
and ``state``. The stream polls twice a second, reading only what each file gained, and ends
after the job ends.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fastapi import Request

from lumos.jobs import FINAL, Job, open_job
from lumos.train.callbacks import METRICS
from lumos.workspace import Workspace

POLL_SECONDS = 0.5
HEARTBEAT_POLLS = 30


def _event(name: str, data: Any) -> str:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n"


class _Follower:
    """The complete lines appended to a file since the last call (a ``tail -f``)."""

    def __init__(self, path: Path) -> None:
        self.path, self.offset = path, 0

    def new_lines(self) -> list[str]:
        try:
            with self.path.open("rb") as f:
                if f.seek(0, 2) < self.offset:  # rewritten shorter (a resumed run): start over
                    self.offset = 0
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return []
        complete = data[: data.rfind(b"\n") + 1]  # a line still being written waits
        self.offset += len(complete)
        return complete.decode("utf-8", "replace").splitlines()


async def job_events(request: Request, workspace: Workspace, job: Job) -> AsyncIterator[str]:
    metrics, log = _Follower(job.folder / METRICS), _Follower(job.log_path)
    last_state, last_progress, quiet = None, None, 0
    while True:
        current = await asyncio.to_thread(open_job, workspace, job.id)
        chunks = []
        if records := [json.loads(line) for line in metrics.new_lines()]:
            chunks.append(_event("metrics", records))
        progress = current.read_progress()
        if progress != last_progress:
            last_progress = progress
            chunks.append(_event("progress", progress))
        if lines := log.new_lines():
            chunks.append(_event("log", lines))
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
