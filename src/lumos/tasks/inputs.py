"""What a model sees of an input: images preprocessed exactly as in training.

Files are decoded like an import (EXIF rotation, 16-bit, palette, alpha), resized to the
dataset's size by its resize mode (or by pretrained weights' own transform), then to the
network's input size.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from lumos.data.geometry import place_image
from lumos.data.images import from_array, is_image_name, open_image
from lumos.data.loader import at_size
from lumos.errors import DataError
from lumos.tasks.base import Seen, TrainedModel


def expand(inputs: Sequence[str | Path | np.ndarray]) -> list[Path | np.ndarray]:
    """Inputs in their order: arrays and files as given, folders as their image files (sorted);
    a folder without images is refused."""
    expanded: list[Path | np.ndarray] = []
    for entry in inputs:
        if isinstance(entry, np.ndarray):
            expanded.append(entry)
        elif Path(entry).is_dir():
            found = sorted(p for p in Path(entry).rglob("*") if p.is_file() and is_image_name(p))
            if not found:
                raise DataError(entry, "no image found in this folder")
            expanded.extend(found)
        else:
            expanded.append(Path(entry))
    return expanded


def preprocess(
    source: Path | np.ndarray | bytes, bundle: TrainedModel, name: str | None = None
) -> np.ndarray:
    """One input (a file, an array, or an image file's bytes called ``name``) as the
    (H, W, C) uint8 array training saw."""
    return seen(source, bundle, name).pixels


def seen(source: Path | np.ndarray | bytes, bundle: TrainedModel, name: str | None = None) -> Seen:
    """:func:`preprocess`, with what the input is called and how it was placed on the
    stored canvas. An input that cannot be read raises its :class:`DataError`."""
    pre = bundle.preprocessing
    height, width = pre.size
    if isinstance(source, np.ndarray):
        image = from_array(source, pre.channels)
        full = image.size
    else:
        if isinstance(source, Path) and not source.is_file():
            raise DataError(source, "no such file")
        draft = (width, height) if pre.decodes_reduced else None
        image, full = open_image(source, channels=pre.channels, draft_size=draft, name=name)
    where = pre.placement(full)
    pixels = place_image(image, where, (0, 0), pre.interpolation)
    pixels = pixels if pixels.ndim == 3 else pixels[:, :, None]
    return Seen(source_name(source, name), pixels, where)


def source_name(source: Path | np.ndarray | bytes, name: str | None = None) -> str:
    """What an input is called in its result: a file's path, an upload's name, ``array``."""
    if name is not None:
        return name
    if isinstance(source, bytes):
        return "upload"
    return "array" if isinstance(source, np.ndarray) else str(source)


def network_input(arrays: Sequence[np.ndarray], bundle: TrainedModel) -> torch.Tensor:
    """Preprocessed (H, W, C) uint8 images as the network's float batch at its input size."""
    images = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float().div_(255)
    return at_size(images, bundle.preprocessing.input_size)
