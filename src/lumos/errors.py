"""Typed errors. Each carries what a person needs to fix the problem: the file and the reason."""

from __future__ import annotations

from pathlib import Path


class LumosError(Exception):
    """Base of every error lumos raises on purpose; front ends show it as one line."""


class Stopped(LumosError):  # noqa: N818 - a stop, not a failure
    """A run that Ctrl-C (or an abort) stopped after saving what resumes it. Not a failure:
    the message says how to go on, and the CLI shows it without "error" and exits 130."""


class DataError(LumosError):
    """A source file or folder that cannot be used, with the reason."""

    def __init__(self, path: str | Path | None, reason: str) -> None:
        self.path = str(path) if path is not None else None
        self.reason = reason
        super().__init__(f"{self.path}: {reason}" if self.path else reason)


class WorkspaceError(LumosError):
    """The workspace or one of its entries is missing, busy or inconsistent."""


class NotFoundError(WorkspaceError):
    """A named entry (dataset, job, model) does not exist."""


class BundleError(LumosError):
    """A bundle that is missing, damaged, or of an unknown version."""


class ExportError(LumosError):
    """An export that cannot be made, or that does not compute what PyTorch computes."""
