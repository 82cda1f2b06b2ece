"""What a network's head receives for a dataset's split, computed once and kept.

A frozen body's features depend only on the body's weights, the images and how they are
prepared, so they are kept beside the dataset (``<dataset>/features/<key>.pt``) under a
digest of all three: a second linear probe, or a second ranking of the same source for the
same target, costs no forward pass. Re-importing or removing the dataset drops them with
it; the least recently used files beyond :data:`KEEP` a dataset are removed.
"""

from __future__ import annotations

import hashlib
import io
import os
import warnings
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import torch
from torch import nn

from lumos.data import Dataset
from lumos.fileio import write_bytes_atomic
from lumos.models.digest import weights_digest
from lumos.models.features import features

KEEP = 32  # cached feature files a dataset keeps
Batches = Callable[[Dataset], Iterable[tuple[torch.Tensor, torch.Tensor]]]


def body_digest(model: nn.Module, head: nn.Module) -> str:
    """A digest of every weight and buffer of ``model`` outside ``head``."""
    skipped = {id(t) for t in [*head.parameters(), *head.buffers()]}
    state = model.state_dict(keep_vars=True).items()
    return weights_digest((name, t) for name, t in state if id(t) not in skipped)


def cached_features(
    model: nn.Module,
    head: nn.Module,
    parts: Sequence[Dataset],
    batches: Batches,
    *,
    size: tuple[int, int],
    dtype: torch.dtype,
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """What ``head`` receives for every record of each of ``parts`` and the records'
    labels, from the cache or from one pass of ``batches(part)``: the part's images at
    ``size`` (computed in ``dtype``) and their labels."""
    body = body_digest(model, head)
    found = []
    for part in parts:
        path = _path(body, part, f"{tuple(size)}|{dtype}")
        stored = _read(path)
        if stored is None:
            stored = features(model, head, batches(part))
            buffer = io.BytesIO()
            torch.save({"features": stored[0].cpu(), "labels": stored[1].cpu()}, buffer)
            write_bytes_atomic(path, buffer.getvalue())
            _trim(path.parent)
        found.append(stored)
    return found


def _read(path: Path) -> tuple[torch.Tensor, torch.Tensor] | None:
    """The cached features and labels, or None if there are none (or they do not read:
    a damaged file is computed again)."""
    try:
        with warnings.catch_warnings(action="ignore"):  # a damaged file's pickle protocol
            stored = torch.load(path, weights_only=True)
        os.utime(path)
        return stored["features"], stored["labels"]
    except Exception:  # missing, or damaged in any way: computed again
        return None


def _path(body: str, part: Dataset, preparation: str) -> Path:
    records = hashlib.blake2b(part.indices.tobytes(), digest_size=8).hexdigest()
    created = part.manifest.get("created", "")
    key = hashlib.blake2b(
        f"{body}|{created}|{records}|{preparation}".encode(), digest_size=16
    ).hexdigest()
    return part.folder / "features" / f"{key}.pt"


def _trim(folder: Path) -> None:
    kept = sorted(folder.glob("*.pt"), key=lambda p: p.stat().st_mtime, reverse=True)
    for stale in kept[KEEP:]:
        stale.unlink(missing_ok=True)
