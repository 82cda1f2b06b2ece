"""A short digest of named tensors: the same weights, bit for bit, give the same digest."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import torch


def weights_digest(tensors: Iterable[tuple[str, torch.Tensor]], salt: bytes = b"") -> str:
    """Hex digest of each tensor's name, dtype, shape and bytes, after ``salt``."""
    digest = hashlib.blake2b(salt, digest_size=16)
    for name, tensor in tensors:
        value = tensor.detach().cpu().contiguous().reshape(-1)
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
        digest.update(value.view(torch.uint8).numpy())
    return digest.hexdigest()
