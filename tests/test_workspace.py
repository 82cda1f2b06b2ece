import multiprocessing
import sqlite3
from pathlib import Path

import pytest

from helpers import insert_jobs
from lumos.errors import WorkspaceError
from lumos.workspace import SCHEMA_VERSION, Workspace, validate_name


def test_workspace_creates_folders_and_store(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "home").ensure()
    for folder in ("datasets", "jobs", "models"):
        assert (tmp_path / "home" / folder).is_dir()
    assert ws.schema_version == SCHEMA_VERSION
    with ws.db() as db:
        mode = db.execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_lumos_home_is_the_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LUMOS_HOME", str(tmp_path / "elsewhere"))
    assert Workspace().root == (tmp_path / "elsewhere").resolve()


def test_old_store_is_migrated(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    sqlite3.connect(root / "lumos.db").close()  # a version-0 store
    ws = Workspace(root).ensure()
    assert ws.schema_version == SCHEMA_VERSION
    with ws.db() as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"datasets", "jobs"} <= tables


def test_store_from_a_newer_lumos_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    db = sqlite3.connect(root / "lumos.db")
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 5}")
    db.close()
    with pytest.raises(WorkspaceError, match="newer than this lumos"):
        Workspace(root).ensure()


def test_corrupt_store_gives_a_clear_error(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "lumos.db").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(WorkspaceError, match="lumos.db"):
        Workspace(root).ensure()


def test_two_processes_write_at_once(tmp_path: Path) -> None:
    root = str(tmp_path / "ws")
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=insert_jobs, args=(root, w)) for w in range(2)]
    for p in workers:
        p.start()
    for p in workers:
        p.join(60)
        assert p.exitcode == 0
    with Workspace(root).db() as db:
        assert db.execute("SELECT COUNT(*) FROM jobs").fetchone()[0] == 80


@pytest.mark.parametrize(
    "name", ["", "../evil", "a/b", ".hidden", "x" * 65, "sp ace", "..", "nul\x00"]
)
def test_unsafe_names_are_refused(name: str) -> None:
    with pytest.raises(WorkspaceError, match="invalid"):
        validate_name(name)


def test_good_names_pass() -> None:
    assert validate_name("mnist-v2.1_small") == "mnist-v2.1_small"
