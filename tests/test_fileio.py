import os
from pathlib import Path

import pytest

from lumos.fileio import remove_stale_staging, staged_directory, write_json_atomic


def test_staged_directory_appears_complete(tmp_path: Path) -> None:
    final = tmp_path / "out"
    with staged_directory(final, overwrite=False) as staging:
        (staging / "a.txt").write_text("new")
        assert not final.exists()
    assert (final / "a.txt").read_text() == "new"


def test_failure_keeps_the_old_folder(tmp_path: Path) -> None:
    final = tmp_path / "out"
    final.mkdir()
    (final / "a.txt").write_text("old")
    with pytest.raises(RuntimeError), staged_directory(final, overwrite=True) as staging:
        (staging / "a.txt").write_text("half")
        raise RuntimeError("boom")
    assert (final / "a.txt").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_overwrite_replaces_only_when_asked(tmp_path: Path) -> None:
    final = tmp_path / "out"
    final.mkdir()
    with pytest.raises(FileExistsError), staged_directory(final, overwrite=False):
        pass
    with staged_directory(final, overwrite=True) as staging:
        (staging / "b.txt").write_text("b")
    assert [p.name for p in final.iterdir()] == ["b.txt"]


def test_stale_staging_of_dead_processes_is_removed(tmp_path: Path) -> None:
    dead = tmp_path / ".staging-999999999-x-abc"
    alive = tmp_path / f".staging-{os.getpid()}-x-abc"
    dead.mkdir()
    alive.mkdir()
    assert remove_stale_staging(tmp_path) == [dead]
    assert alive.exists()


def test_write_json_atomic(tmp_path: Path) -> None:
    target = tmp_path / "d" / "x.json"
    write_json_atomic(target, {"é": 1})
    assert target.read_text(encoding="utf-8").strip().startswith("{")
    assert list(target.parent.iterdir()) == [target]
