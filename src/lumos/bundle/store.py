"""The workspace's saved models: storing one atomically, listing, marking one as served,
and removing one that no server holds."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save as save_safetensors

from lumos import __version__
from lumos.bundle.bundle import META, WEIGHTS, Bundle
from lumos.bundle.meta import BUNDLE_VERSION, BundleMeta
from lumos.errors import BundleError, NotFoundError, WorkspaceError
from lumos.fileio import process_alive, staged_directory, write_bytes_atomic, write_json_atomic
from lumos.workspace import Workspace, validate_name


def model_folder(name: str, workspace: Workspace, *, overwrite: bool = False) -> Path:
    """Where model ``name`` is stored; refused when the name is not valid, or taken and not
    to be overwritten (asked before a save does its work, not after)."""
    folder = workspace.models_dir / validate_name(name, "model name")
    if folder.exists() and not overwrite:
        raise BundleError(f"model {name!r} already exists: use --overwrite to replace it")
    return folder


def save_bundle(
    name: str,
    *,
    meta: dict[str, Any],
    weights: dict[str, torch.Tensor],
    workspace: Workspace | None = None,
    overwrite: bool = False,
) -> Path:
    """Store a bundle as ``models/<name>/`` (atomically); returns the folder."""
    workspace = (workspace or Workspace()).ensure()
    folder = model_folder(name, workspace, overwrite=overwrite)
    described = BundleMeta.parse(
        {
            "lumos_bundle": BUNDLE_VERSION,
            **meta,
            "name": name,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        },
        f"model {name!r}",
    )
    described.provenance = {
        **described.provenance,
        "lumos_version": __version__,
        "git_hash": _git_hash(),
    }
    try:
        with staged_directory(folder, overwrite=overwrite) as staging:
            write_json_atomic(staging / META, described.as_json())
            write_bytes_atomic(
                staging / WEIGHTS, save_safetensors({k: v.contiguous() for k, v in weights.items()})
            )
    except FileExistsError:
        raise BundleError(f"model {name!r} already exists: use --overwrite to replace it") from None
    return folder


def list_bundles(workspace: Workspace | None = None) -> list[dict[str, Any]]:
    """The saved models of the workspace (damaged ones left out), as rows."""
    workspace = (workspace or Workspace()).ensure()
    rows = []
    for folder in sorted(workspace.models_dir.iterdir()):
        try:
            meta = _meta_of(folder)
        except (OSError, ValueError, BundleError):
            continue
        rows.append(
            {
                "name": folder.name,
                "task": meta.task,
                "network": meta.network.name,
                "dataset": meta.provenance.get("dataset"),
                "source": _source(meta.provenance),
                "provenance": meta.provenance,
                "metrics": meta.metrics,
                "created": meta.created,
            }
        )
    return rows


def saved_meta(name: str, workspace: Workspace) -> BundleMeta:
    """What saved model ``name`` says of itself, its weights left unread (what a check of
    its task, input or origin needs)."""
    folder = workspace.models_dir / validate_name(name, "model name")
    if not folder.is_dir():
        raise NotFoundError(f"no model named {name!r} (see `lumos models list`)")
    try:
        return _meta_of(folder)
    except (OSError, ValueError) as e:
        raise BundleError(f"{folder}: not a bundle ({e})") from None


def _meta_of(folder: Path) -> BundleMeta:
    return BundleMeta.parse(json.loads((folder / META).read_bytes()), str(folder))


def _source(provenance: dict[str, Any]) -> str:
    """Where a model came from, in a few words: its training job, or the file imported."""
    if provenance.get("source") == "imported":
        return f"imported {Path(provenance['file']).name}"
    return f"job {provenance['job']}" if provenance.get("job") else ""


_SERVED_BY = ".served-by-"  # + pid: a marker file while a server holds the bundle


@contextlib.contextmanager
def serving(bundle: Bundle) -> Iterator[None]:
    """Mark ``bundle``'s folder as served by this process while the block runs, so that
    :func:`remove_bundle` refuses to pull it from under a running server."""
    if bundle.folder is None:  # a .lumos file: nothing in the workspace to protect
        yield
        return
    marker = bundle.folder / f"{_SERVED_BY}{os.getpid()}"
    marker.touch()
    try:
        yield
    finally:
        marker.unlink(missing_ok=True)


def _servers(folder: Path) -> list[int]:
    pids = [int(path.name[len(_SERVED_BY) :]) for path in folder.glob(f"{_SERVED_BY}*")]
    return [pid for pid in pids if process_alive(pid)]


def remove_bundle(name: str, workspace: Workspace | None = None) -> None:
    workspace = (workspace or Workspace()).ensure()
    folder = workspace.models_dir / validate_name(name, "model name")
    if not (folder / META).is_file():
        raise NotFoundError(f"no model named {name!r} (see `lumos models list`)")
    servers = _servers(folder)
    if servers:
        raise WorkspaceError(
            f"model {name!r} is being served (lumos serve, pid {', '.join(map(str, servers))}): "
            "stop the server before removing the model"
        )
    shutil.rmtree(folder)


def _git_hash() -> str | None:
    """The commit of the lumos source, when it runs from a git checkout."""
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() or None
