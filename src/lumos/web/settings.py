"""What a ``lumos ui`` server is allowed to do, decided once at start-up."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from lumos.workspace import Workspace


@dataclass
class WebSettings:
    """The workspace served, the token every request must carry (None: loopback only, no
    token), the folders a form may name, and the upload limits."""

    workspace: Workspace
    token: str | None = None
    roots: list[Path] = field(default_factory=list)
    max_upload_bytes: int = 1 << 30
    max_unpacked_bytes: int = 4 << 30
    max_unpacked_files: int = 200_000
    run_jobs: bool = True
    max_training_jobs: int = 1

    def __post_init__(self) -> None:
        self.workspace.ensure()
        # Forms may name folders under these roots only (default: the folder lumos started in).
        self.roots = [p.resolve() for p in (self.roots or [Path.cwd()])]

    @property
    def uploads_dir(self) -> Path:
        return self.workspace.root / "uploads"
