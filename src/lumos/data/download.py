"""Fetching public data sets. Used by ``--download``; never by the tests (no network)."""

from __future__ import annotations

import shutil
import tarfile
import urllib.request
from pathlib import Path

from lumos.errors import DataError
from lumos.fileio import write_bytes_atomic


def fetch(url: str, target: Path) -> Path:
    """Download ``url`` to ``target`` unless it is already there."""
    if target.is_file():
        return target
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            write_bytes_atomic(target, response.read())
    except OSError as e:
        raise DataError(url, f"download failed: {e}") from None
    return target


def extract_tar(archive: Path, folder: Path) -> None:
    """Unpack a tar archive with the "data" filter: no links out, no absolute paths."""
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(folder, filter="data")
    except (tarfile.TarError, OSError) as e:
        shutil.rmtree(folder, ignore_errors=True)
        raise DataError(archive, f"cannot unpack: {e}") from None
