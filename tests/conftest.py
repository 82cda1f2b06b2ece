"""Every test gets its own workspace in a temporary folder, and LUMOS_HOME pointing at it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from lumos.workspace import Workspace

if os.environ.get("PYTEST_XDIST_WORKER"):
    # One intra-op thread per test process: pytest -n 2 on 2 cores, not 2 x 2 threads.
    torch.set_num_threads(1)


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    root = tmp_path / "workspace"
    monkeypatch.setenv("LUMOS_HOME", str(root))
    return Workspace(root).ensure()


@pytest.fixture
def digits(workspace: Workspace) -> Workspace:
    """The workspace with ``digits``: sklearn's digits, 30 images a class (300 records)."""
    from lumos.data import import_dataset

    import_dataset("sample:digits", "digits", workspace=workspace, max_per_class=30)
    return workspace
