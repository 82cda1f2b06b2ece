"""Reading weights a user already has: safetensors, or a PyTorch state dict (torchvision's,
timm's, or a training checkpoint holding one), never an arbitrary pickle."""

from __future__ import annotations

import pickle
import warnings
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from lumos.errors import DataError

NOT_WEIGHTS = (
    "not weights: only tensors are read (safetensors or a PyTorch state dict), nothing is unpickled"
)
CHECKPOINT_KEYS = ("state_dict", "model", "model_state_dict", "weights")  # where trainers nest it


def read_weights(path: Path) -> tuple[dict[str, torch.Tensor], str]:
    """The tensors in ``path`` by name, and the format they came in ("safetensors" or
    "torch"). A pickle is read with ``weights_only=True``: classes and code in it are refused,
    not run."""
    if not path.is_file():
        raise DataError(path, "no such file")
    if path.stat().st_size == 0:
        raise DataError(path, "empty file (0 bytes)")
    if path.suffix == ".safetensors":
        try:
            return load_file(path), "safetensors"
        except (SafetensorError, OSError, ValueError) as e:
            raise DataError(path, f"not a safetensors file ({e})") from None
    try:
        with warnings.catch_warnings():  # torch warns of pickle protocols it reads anyway
            warnings.simplefilter("ignore", UserWarning)
            loaded = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, OSError):
        # Garbage and a pickle of other objects look alike to the weights-only reader.
        raise DataError(path, NOT_WEIGHTS) from None
    return _state_dict(loaded, path), "torch"


def _state_dict(loaded: object, path: Path) -> dict[str, torch.Tensor]:
    """The name → tensor mapping in what ``torch.load`` gave: the dict itself, or the one a
    checkpoint keeps under a usual key."""
    if isinstance(loaded, dict):
        for key in CHECKPOINT_KEYS:
            if isinstance(loaded.get(key), dict):
                loaded = loaded[key]
                break
    if not isinstance(loaded, dict) or not loaded:
        raise DataError(path, "not a state dict: expected names mapped to tensors")
    tensors = {k: v for k, v in loaded.items() if isinstance(v, torch.Tensor)}
    if not tensors or not all(isinstance(k, str) for k in tensors):
        raise DataError(path, "not a state dict: expected names mapped to tensors")
    return tensors
