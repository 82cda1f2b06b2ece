"""What a ``lumos ui`` server is allowed to do, decided once at start-up."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from lumos.access import LOOPBACK
from lumos.web.headers import host_name
from lumos.workspace import Workspace

WILDCARD_HOSTS = ("0.0.0.0", "::", "")
FORM_SLACK = 1 << 20  # multipart framing and the other fields of an upload form


@dataclass
class WebSettings:
    """The workspace served, the token every request must carry (None: loopback only, no
    token), the address bound and the host names accepted besides it, the folders a form may
    name, and the upload limits."""

    workspace: Workspace
    token: str | None = None
    host: str = "127.0.0.1"
    allowed_hosts: list[str] = field(default_factory=list)
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
    def accepted_hosts(self) -> frozenset[str] | None:
        """Host names requests may carry; None: any (bound to every address, with a token,
        and no ``allowed_hosts`` named)."""
        wildcard = self.host in WILDCARD_HOSTS
        if wildcard and self.token and not self.allowed_hosts:
            return None
        names = [*LOOPBACK, *([] if wildcard else [self.host]), *self.allowed_hosts]
        return frozenset(host_name(name) for name in names)

    @property
    def max_request_bytes(self) -> int:
        """The largest request body: an upload at the cap, and its form around it."""
        return self.max_upload_bytes + FORM_SLACK

    @property
    def uploads_dir(self) -> Path:
        return self.workspace.root / "uploads"
