"""Resizing to the dataset's size by one of DIGITS' four modes, for images, boxes and masks.

Each mode is a :class:`Placement`: scale the source, then put it at an offset on the target
canvas (negative offsets crop). Images, masks and boxes go through the same placement, so
they stay aligned whatever the mode.

- ``squash``: stretch to the target size, aspect ratio not kept.
- ``crop``: keep the aspect ratio, cover the target, centre-crop what overflows.
- ``fill``: keep the aspect ratio, fit inside the target, fill the border with noise.
- ``half-crop``: keep the aspect ratio at the scale halfway between fill and crop:
  half the overflow is cropped, the remaining border filled with noise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import get_args

import numpy as np
from PIL import Image

from lumos.choices import Interpolation, ResizeMode
from lumos.data.records import IGNORE_INDEX

RESAMPLING = "bilinear (Pillow, reducing_gap 3)"  # how images are scaled to the stored size
RESIZE_MODES: tuple[ResizeMode, ...] = get_args(ResizeMode)
_FILTERS = {
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "nearest": Image.Resampling.NEAREST,
}


@dataclass(frozen=True)
class Placement:
    """Source (width, height) scaled to ``resized`` and pasted at ``offset`` on ``size``."""

    source: tuple[int, int]
    resized: tuple[int, int]
    offset: tuple[int, int]
    size: tuple[int, int]

    @property
    def identity(self) -> bool:
        return self.source == self.size and self.resized == self.size and self.offset == (0, 0)

    @property
    def scale(self) -> tuple[float, float]:
        return self.resized[0] / self.source[0], self.resized[1] / self.source[1]


def placement(source: tuple[int, int], size: tuple[int, int], mode: ResizeMode) -> Placement:
    """How a ``source`` (width, height) image lands on a ``size`` (width, height) canvas."""
    (sw, sh), (tw, th) = source, size
    if mode == "squash":
        resized = (tw, th)
    else:
        fit, cover = min(tw / sw, th / sh), max(tw / sw, th / sh)
        scale = {"crop": cover, "fill": fit, "half-crop": (fit + cover) / 2}[mode]
        resized = (max(1, round(sw * scale)), max(1, round(sh * scale)))
    offset = ((tw - resized[0]) // 2, (th - resized[1]) // 2)
    return Placement(source, resized, offset, size)


def shorter_side_crop(source: tuple[int, int], size: tuple[int, int], shorter: int) -> Placement:
    """torchvision's and timm's evaluation transform as a placement: the ``source`` (width,
    height) image's shorter side resized to ``shorter`` (the longer in proportion, rounded
    down), then its centre ``size`` (width, height) cut out (offsets rounded as theirs)."""
    (sw, sh), (tw, th) = source, size
    resized = (shorter, int(shorter * sh / sw)) if sw <= sh else (int(shorter * sw / sh), shorter)
    offset = (-round((resized[0] - tw) / 2), -round((resized[1] - th) / 2))
    return Placement(source, resized, offset, size)


def place_image(
    im: Image.Image,
    where: Placement,
    noise_seed: tuple[int, ...],
    interpolation: Interpolation | None = None,
) -> np.ndarray:
    """Resize and place a PIL image; uncovered pixels get uniform noise (DIGITS' fill).

    The noise is drawn from ``noise_seed``, so the same record always gets the same border.
    ``interpolation`` resizes as torchvision and timm do on PIL images (Pillow's filter, no
    reducing gap); by default lumos's own :data:`RESAMPLING`.
    """
    if where.identity:
        return np.asarray(im)
    if interpolation is None:
        resized = im.resize(where.resized, Image.Resampling.BILINEAR, reducing_gap=3.0)
    else:
        resized = im.resize(where.resized, _FILTERS[interpolation])
    if where.resized == where.size and where.offset == (0, 0):
        return np.asarray(resized)
    channels = len(im.getbands())
    shape = (where.size[1], where.size[0]) + ((channels,) if channels > 1 else ())
    noise = np.random.default_rng(noise_seed).integers(0, 256, shape, dtype=np.uint8)
    canvas = Image.fromarray(noise)
    canvas.paste(resized, where.offset)
    return np.asarray(canvas)


def place_mask(mask: np.ndarray, where: Placement) -> np.ndarray:
    """Resize and place a class-index mask (nearest neighbour); uncovered pixels are ignored."""
    if where.identity:
        return mask
    resized = Image.fromarray(mask).resize(where.resized, Image.Resampling.NEAREST)
    canvas = Image.new("L", where.size, IGNORE_INDEX)
    canvas.paste(resized, where.offset)
    return np.asarray(canvas)


def place_boxes(boxes: np.ndarray, where: Placement) -> tuple[np.ndarray, np.ndarray]:
    """Map (N, 4) x1y1x2y2 boxes, clip them to the canvas; returns boxes and a keep mask.

    A box is kept when at least a quarter of a pixel of it is still on the canvas in each
    direction.
    """
    sx, sy = where.scale
    out = boxes.astype(np.float32).copy()
    out[:, [0, 2]] = out[:, [0, 2]] * sx + where.offset[0]
    out[:, [1, 3]] = out[:, [1, 3]] * sy + where.offset[1]
    out[:, [0, 2]] = out[:, [0, 2]].clip(0, where.size[0])
    out[:, [1, 3]] = out[:, [1, 3]].clip(0, where.size[1])
    keep = ((out[:, 2] - out[:, 0]) >= 0.25) & ((out[:, 3] - out[:, 1]) >= 0.25)
    return out, keep


def unplace_boxes(boxes: np.ndarray, where: Placement) -> np.ndarray:
    """Map (N, 4) x1y1x2y2 boxes on the canvas back to the source image's pixels, clipped
    to it: the inverse of :func:`place_boxes`."""
    sx, sy = where.scale
    out = boxes.astype(np.float32).copy()
    out[:, [0, 2]] = ((out[:, [0, 2]] - where.offset[0]) / sx).clip(0, where.source[0])
    out[:, [1, 3]] = ((out[:, [1, 3]] - where.offset[1]) / sy).clip(0, where.source[1])
    return out
