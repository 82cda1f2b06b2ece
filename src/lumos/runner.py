"""The job runner: starts queued jobs from ``lumos.db`` as worker processes.

Each queued job runs in its own process (:mod:`lumos.worker`), at most ``max_training``
training jobs and ``max_other`` other jobs at a time, oldest first, each with its share of
the cores (:mod:`lumos.threads`). The processes are forked from a server process that has
imported the worker once (multiprocessing's forkserver): a job starts in milliseconds, not
in the seconds that importing PyTorch and lumos takes each new interpreter; that server is
started with the runner, so the first job does not wait for it either. The queue lives
in the store, so jobs queued before a restart start after it, and a runner in another
process (a second ``lumos ui``) never starts the same job twice: workers claim their job
atomically.
"""

from __future__ import annotations

import importlib
import multiprocessing
import multiprocessing.forkserver
import os
import sys
import threading
from collections import Counter
from multiprocessing.process import BaseProcess
from pathlib import Path

import torch

from lumos.jobs import reap_dead_jobs
from lumos.threads import share, worker_environment
from lumos.workspace import Workspace

WORKER = "lumos.worker"  # by name: the worker's room is above this one


class JobRunner:
    """Polls the queue every ``interval`` seconds in a background thread."""

    def __init__(
        self,
        workspace: Workspace,
        *,
        max_training: int = 1,
        max_other: int = 2,
        interval: float = 0.5,
    ) -> None:
        self.workspace = workspace.ensure()
        self.limits = {"train": max_training, "other": max_other}
        self.interval = interval
        self._workers: dict[str, BaseProcess] = {}
        self._stop = threading.Event()
        self._woken = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> JobRunner:
        self._thread = threading.Thread(target=self._loop, name="lumos-job-runner", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop starting jobs; workers already running go on to their end."""
        self._stop.set()
        self._woken.set()
        if self._thread is not None:
            self._thread.join()

    def _loop(self) -> None:
        _processes()
        multiprocessing.forkserver.ensure_running()  # the first job's import, paid now
        while not self._stop.is_set():
            self.tick()
            self._woken.wait(self.interval)
            self._woken.clear()

    def wake(self) -> None:
        """Look at the queue now (a job was just queued) instead of at the next poll."""
        self._woken.set()

    def tick(self) -> list[str]:
        """Start what the limits allow; returns the ids of the jobs started."""
        self._collect_finished()
        reap_dead_jobs(self.workspace)
        with self.workspace.db() as db:
            rows = db.execute(
                "SELECT id, kind, state FROM jobs WHERE state IN ('queued', 'running') "
                "ORDER BY created, rowid"
            ).fetchall()
        # Busy: running anywhere (the CLI too), or started here and not yet claimed.
        busy = Counter(
            self._slot(r["kind"])
            for r in rows
            if r["state"] == "running" or r["id"] in self._workers
        )
        started = []
        for row in rows:
            slot = self._slot(row["kind"])
            waiting = row["state"] == "queued" and row["id"] not in self._workers
            if not waiting or busy[slot] >= self.limits[slot]:
                continue
            busy[slot] += 1
            started.append(row["id"])
        # The cores are split between every job that will run; those already running keep
        # the share they started with.
        threads = share(sum(busy.values()))
        for job_id in started:
            self._workers[job_id] = self._launch(job_id, threads)
        return started

    @staticmethod
    def _slot(kind: str) -> str:
        return "train" if kind == "train" else "other"

    def _launch(self, job_id: str, threads: int) -> BaseProcess:
        output = self.workspace.jobs_dir / job_id / "output.txt"
        process = _processes().Process(
            target=_work, args=(job_id, str(self.workspace.root), threads, str(output)),
            name=f"lumos-job-{job_id}",
        )  # fmt: skip
        process.start()
        # Not a child to wait for: multiprocessing joins the children it knows of when this
        # process ends, and a server that stops leaves its running jobs running.
        multiprocessing.process._children.discard(process)
        return process

    def _collect_finished(self) -> None:
        for job_id, process in list(self._workers.items()):
            if not process.is_alive():  # reaped: its pid no longer looks alive
                del self._workers[job_id]

    def wait(self) -> None:
        """Wait for every worker this runner started (tests, shutdown)."""
        for process in list(self._workers.values()):
            process.join()
        self._collect_finished()


def _processes() -> multiprocessing.context.BaseContext:
    """Processes forked from one that imported the worker once, with OpenMP's waiting
    threads asleep (``OMP_WAIT_POLICY`` is read when PyTorch loads, there)."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([WORKER])
    return context


def _work(job_id: str, home: str, threads: int, output: str) -> None:
    """A job's process: a session of its own (a Ctrl-C meant for the server does not stop
    the job), its output appended to the job's ``output.txt``, its share of the cores."""
    os.setsid()
    with Path(output).open("ab") as sink:
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
            os.dup2(sink.fileno(), stream.fileno())
    sys.stdout.reconfigure(line_buffering=True)
    sys.stderr.reconfigure(line_buffering=True)
    os.environ.update(worker_environment(threads))
    torch.set_num_threads(threads)
    sys.exit(importlib.import_module(WORKER).main([job_id, "--home", home]))
