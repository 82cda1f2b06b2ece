"""Every test gets its own workspace in a temporary folder, and LUMOS_HOME pointing at it."""

from __future__ import annotations

from pathlib import Path

import pytest

from lumos.workspace import Workspace


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    root = tmp_path / "workspace"
    monkeypatch.setenv("LUMOS_HOME", str(root))
    return Workspace(root).ensure()
