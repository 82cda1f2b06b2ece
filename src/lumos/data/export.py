"""Writing a stored dataset out in a source format, so it can be used elsewhere or re-imported."""

from __future__ import annotations

from pathlib import Path

from lumos.data import formats
from lumos.data.dataset import Dataset
from lumos.errors import DataError
from lumos.fileio import staged_directory
from lumos.workspace import Workspace

EXPORT_FORMATS = tuple(formats.FORMATS)


def export_dataset(
    name: str,
    format_name: str,
    out: str | Path,
    *,
    workspace: Workspace | None = None,
    overwrite: bool = False,
    corners: str = "pixels",
) -> Path:
    """Write dataset ``name`` to the folder ``out`` in ``format_name``; returns ``out``.

    The folder appears complete or not at all; an existing one is replaced only with
    ``overwrite``. ``corners`` is Pascal VOC's box convention (see ImportOptions.corners).
    """
    if corners not in ("pixels", "edges"):
        raise DataError(None, f"unknown corner convention {corners!r}: choose pixels or edges")
    write = formats.writer(format_name, corners)
    dataset = Dataset.open(name, workspace)
    out = Path(out).resolve()
    if out.exists() and not overwrite and any(out.iterdir()):
        raise DataError(out, "folder exists and is not empty: use --overwrite to replace it")
    with staged_directory(out, overwrite=True) as staging:
        write(dataset, staging)
    return out
