"""A PostgreSQL server of Debian's ``postgresql`` package, started for a test in a
temporary folder (as the ``postgres`` user when the tests run as root). It listens on a
Unix socket in that folder only: no TCP port another process could take first."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from needs import missing


def _server_binaries() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    return found[-1].parent if found else None


def _as_server_user(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@pytest.fixture
def postgres_url() -> Iterator[str]:
    binaries = _server_binaries()
    if binaries is None:
        missing("postgresql", "Debian's postgresql is not installed")
    folder = Path(tempfile.mkdtemp(prefix="lumos-pg-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    data, log = folder / "data", folder / "server.log"
    steps = [
        [str(binaries / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"],
        [str(binaries / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "300", "-o",
         f"-h '' -k {folder} -F", "start"],
    ]  # fmt: skip
    for step in steps:
        done = subprocess.run(_as_server_user(step), capture_output=True, text=True)
        if done.returncode:
            shutil.rmtree(folder, ignore_errors=True)
            reason = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            missing("postgresql", f"PostgreSQL could not start: {reason[0]}")
    try:
        yield f"postgresql+psycopg2://postgres@/postgres?host={folder}"
    finally:
        stop = [str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]
        subprocess.run(_as_server_user(stop), capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)
