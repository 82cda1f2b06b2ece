"""Checkpoints written atomically and read without unpickling code.

A checkpoint is a plain dict of tensors, numbers, strings and lists, saved with
``torch.save`` under a temporary name and renamed into place, and loaded with
``torch.load(weights_only=True)``. If the disk fills up mid-write, the previous checkpoint
is still there. Final weights go to safetensors.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from lumos.errors import LumosError


class CheckpointError(LumosError):
    """A checkpoint that could not be written or read."""


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        torch.save(payload, tmp)
        Path(tmp).replace(path)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise CheckpointError(
            f"{path}: checkpoint not written ({e.strerror or e}); the previous one is kept"
        ) from None


def load_checkpoint(path: Path) -> dict[str, Any]:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no checkpoint") from None
    except Exception as e:  # torch raises many kinds for a damaged file
        raise CheckpointError(f"{path}: unreadable checkpoint: {str(e).splitlines()[0]}") from None


def save_weights(
    path: Path, state: dict[str, torch.Tensor], metadata: dict[str, str] | None = None
) -> None:
    """Weights as safetensors, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        save_file(
            {k: v.detach().contiguous().cpu() for k, v in state.items()},
            str(tmp),
            metadata=metadata,
        )
        tmp.replace(path)
    except (OSError, SafetensorError) as e:
        tmp.unlink(missing_ok=True)
        raise CheckpointError(f"{path}: weights not written ({e})") from None


def load_weights(path: Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(path))
    except (OSError, ValueError, RuntimeError, SafetensorError) as e:
        raise CheckpointError(f"{path}: unreadable weights: {e}") from None
