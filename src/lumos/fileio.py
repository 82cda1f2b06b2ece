"""Crash-safe writes: everything lands under a temporary name and is renamed into place."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lumos.errors import DataError


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see either the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def copy_atomic(source: Path, path: Path) -> None:
    """Copy ``source`` to ``path`` so that readers see either no file or the whole copy."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        shutil.copyfile(source, tmp)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes, read a megabyte at a time."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_json(path: Path, what: str = "") -> Any:
    """Parse a JSON file; :class:`DataError` naming the file, with line and column if malformed."""
    label = f"{what} JSON" if what else "JSON"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise DataError(
            path, f"malformed {label}: {e.msg} at line {e.lineno} column {e.colno}"
        ) from None
    except UnicodeDecodeError:
        raise DataError(path, f"malformed {label}: not UTF-8 text") from None
    except OSError as e:
        raise DataError(path, f"cannot read {what or 'file'}: {e.strerror or e}") from None


def write_json_atomic(path: Path, obj: Any) -> None:
    """Write ``obj`` as indented UTF-8 JSON, atomically."""
    write_bytes_atomic(path, json.dumps(obj, indent=2, ensure_ascii=False).encode())


@contextlib.contextmanager
def staged_directory(final: Path, *, overwrite: bool) -> Iterator[Path]:
    """Yield a fresh staging folder that becomes ``final`` only if the block succeeds.

    An existing ``final`` is replaced only when ``overwrite`` is true, and only after the
    new content is complete; on any failure the staging folder is removed and ``final``
    is left as it was.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(
        tempfile.mkdtemp(prefix=f".staging-{os.getpid()}-{final.name}-", dir=final.parent)
    )
    try:
        yield staging
        if final.exists():
            if not overwrite:
                raise FileExistsError(final)
            trash = Path(
                tempfile.mkdtemp(prefix=f".trash-{os.getpid()}-{final.name}-", dir=final.parent)
            )
            final.replace(trash / final.name)
            staging.replace(final)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            try:
                staging.replace(final)
            except OSError as e:  # another process created it since the check above
                raise FileExistsError(final) from e
    except BaseException as e:
        # The failed body's frames still hold open files and maps of the staging folder;
        # released, a full disk gets its space back before the failure is recorded.
        traceback.clear_frames(e.__traceback__)
        shutil.rmtree(staging, ignore_errors=True)
        raise


def remove_stale_staging(parent: Path) -> list[Path]:
    """Delete staging and trash folders left by processes that no longer run."""
    removed = []
    if not parent.is_dir():
        return removed
    for entry in parent.iterdir():
        if not entry.name.startswith((".staging-", ".trash-")):
            continue
        pid = _pid_in_name(entry.name)
        if pid is not None and process_alive(pid):
            continue
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry)
    return removed


def _pid_in_name(name: str) -> int | None:
    # Names are ".staging-<pid>-<final name>-<random>" and ".trash-<pid>-...".
    parts = name.split("-", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


def process_alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
