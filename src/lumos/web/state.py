"""What a running server keeps between requests: its settings and caches of opened entries.

Each cache entry is keyed by the modification time of the file that defines it, so an entry
re-imported, re-saved or re-trained by another process is opened afresh.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Generic, TypeVar

from lumos.bundle import META, Bundle
from lumos.data import Dataset
from lumos.data.store import MANIFEST
from lumos.deploy.runtime import Predictor
from lumos.jobs import Job
from lumos.train.callbacks import METRICS
from lumos.train.run import training_summary
from lumos.web.settings import WebSettings
from lumos.workspace import validate_name

T = TypeVar("T")


class FileKeyedCache(Generic[T]):
    """Values built from a file, rebuilt when the file changes; at most ``size`` kept."""

    def __init__(self, build: Callable[[str], T], file_of: Callable[[str], Path], size: int = 64):
        self.build, self.file_of, self.size = build, file_of, size
        self._entries: dict[str, tuple[tuple[int, int], T]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> T:
        try:
            info = self.file_of(key).stat()
            stamp = (info.st_mtime_ns, info.st_size)
        except OSError:
            stamp = (0, 0)
        with self._lock:
            hit = self._entries.get(key)
        if hit is not None and hit[0] == stamp and stamp != (0, 0):
            return hit[1]
        value = self.build(key)
        with self._lock:
            if len(self._entries) >= self.size:
                self._entries.pop(next(iter(self._entries)))
            self._entries[key] = (stamp, value)
        return value

    def forget(self, key: str) -> None:
        with self._lock:
            self._entries.pop(key, None)


class ServerState:
    """The settings plus caches of datasets, bundles, predictors and training summaries."""

    def __init__(self, settings: WebSettings) -> None:
        self.settings = settings
        workspace = settings.workspace
        self.datasets: FileKeyedCache[Dataset] = FileKeyedCache(
            lambda name: Dataset.open(name, workspace),
            lambda name: workspace.dataset_dir(name) / MANIFEST,
        )
        self.bundles: FileKeyedCache[Bundle] = FileKeyedCache(
            lambda name: Bundle.load(validate_name(name, "model name"), workspace),
            lambda name: workspace.models_dir / validate_name(name, "model name") / META,
            size=8,
        )
        self.predictors: FileKeyedCache[Predictor] = FileKeyedCache(
            lambda name: Predictor(self.bundles.get(name)),
            lambda name: workspace.models_dir / validate_name(name, "model name") / META,
            size=4,
        )
        self._jobs: dict[str, Job] = {}
        self.summaries: FileKeyedCache[dict[str, Any]] = FileKeyedCache(
            lambda job_id: training_summary(self._jobs[job_id]),
            lambda job_id: workspace.jobs_dir / job_id / METRICS,
            size=1024,
        )

    def predictor(self, name: str) -> Predictor:
        """Model ``name`` ready to predict, built once per saved version."""
        return self.predictors.get(name)

    def summary(self, job: Job) -> dict[str, Any]:
        """The training summary of ``job`` (cached until its metrics log grows)."""
        self._jobs[job.id] = job
        return self.summaries.get(job.id)
