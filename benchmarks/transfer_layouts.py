"""The second family of `transfer.py`'s image sets: what a picture holds and where, rather
than which glyph or texture: counts of dots, places on a grid, sizes, arrow directions,
kinds of stroke, and photographs under a style (grey, inverted, blurred, ...). Made on the
spot like `transfer_data.py`'s (32x32 RGB, one folder a class); each maker takes the
folder, the classes, images a class and a seed.

Where a maker's classes are an order (counts, grid cells, sizes), the class is its place
in ``classes``; arrows take the class name as an angle in degrees.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageOps
from sklearn.datasets import load_sample_images

from transfer_data import SIDE, _canvas, _finish, _save

CANVAS = SIDE * 2


def _blob(draw: ImageDraw.ImageDraw, centre: np.ndarray, radius: float, ink: tuple) -> None:
    draw.ellipse([*(centre - radius), *(centre + radius)], fill=ink)


def dot_counts(folder: Path, classes: Sequence[str], per_class: int, seed: int) -> Path:
    """``int(label)`` dots, scattered without touching."""
    rng = np.random.default_rng(seed)
    for label in classes:
        for i in range(per_class):
            image, ink = _canvas(rng)
            draw, placed = ImageDraw.Draw(image), []
            while len(placed) < int(label):
                centre = rng.uniform(6, CANVAS - 6, 2)
                if all(np.hypot(*(centre - other)) > 12 for other in placed):
                    placed.append(centre)
                    _blob(draw, centre, float(rng.uniform(3, 5)), ink)
            _save(folder, label, i, _finish(image, rng, rotate=0))
    return folder


def positions(folder: Path, classes: Sequence[str], per_class: int, seed: int) -> Path:
    """One blob in a cell of a square grid: class ``k`` of ``g*g`` is cell ``k``, row-major."""
    rng = np.random.default_rng(seed)
    grid = math.isqrt(len(classes))
    cell = CANVAS / grid
    for index, label in enumerate(classes):
        row, column = divmod(index, grid)
        for i in range(per_class):
            image, ink = _canvas(rng)
            radius = float(rng.uniform(3, cell / 4))
            centre = np.array([column, row]) * cell + rng.uniform(radius, cell - radius, 2)
            _blob(ImageDraw.Draw(image), centre, radius, ink)
            _save(folder, label, i, _finish(image, rng, rotate=0))
    return folder


def sizes(folder: Path, classes: Sequence[str], per_class: int, seed: int) -> Path:
    """A square of a size band: class ``k`` of ``n`` spans the k-th band of 4-30 px radius."""
    rng = np.random.default_rng(seed)
    bands = np.linspace(4, 30, len(classes) + 1)
    for index, label in enumerate(classes):
        for i in range(per_class):
            image, ink = _canvas(rng)
            radius = float(rng.uniform(bands[index], bands[index + 1]))
            centre = rng.uniform(radius + 1, CANVAS - radius - 1, 2)
            ImageDraw.Draw(image).rectangle([*(centre - radius), *(centre + radius)], fill=ink)
            _save(folder, label, i, _finish(image, rng, rotate=20))
    return folder


def arrows(folder: Path, classes: Sequence[str], per_class: int, seed: int) -> Path:
    """An arrow pointing ``float(label)`` degrees (0 = right, counter-clockwise)."""
    rng = np.random.default_rng(seed)
    outline = np.array([(-1, -0.15), (0.3, -0.15), (0.3, -0.4), (1, 0), (0.3, 0.4),
                        (0.3, 0.15), (-1, 0.15)])  # fmt: skip
    for label in classes:
        angle = -math.radians(float(label))
        turn = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
        for i in range(per_class):
            image, ink = _canvas(rng)
            length = float(rng.uniform(14, 28))
            centre = rng.uniform(length + 1, CANVAS - length - 1, 2)
            points = centre + length * outline @ turn.T
            ImageDraw.Draw(image).polygon([tuple(p) for p in points], fill=ink)
            _save(folder, label, i, _finish(image, rng, rotate=8))
    return folder


def _stroke(kind: str, rng: np.random.Generator) -> np.ndarray:
    """The points of one stroke of ``kind`` on the canvas."""
    t = np.linspace(0, 1, 60)
    phase = rng.uniform(0, 2 * math.pi)
    if kind == "line":
        x, y = t * 2 - 1, np.zeros_like(t)
    elif kind == "zigzag":
        x, y = t * 2 - 1, 0.4 * (2 * np.abs((t * 4) % 2 - 1) - 1)
    elif kind == "wave":
        x, y = t * 2 - 1, 0.4 * np.sin(t * 4 * math.pi + phase)
    elif kind == "arc":
        x, y = np.cos(t * math.pi + phase), np.sin(t * math.pi + phase)
    elif kind == "spiral":
        x, y = t * np.cos(t * 5 * math.pi + phase), t * np.sin(t * 5 * math.pi + phase)
    else:  # loop
        x, y = np.cos(t * 2 * math.pi) * 0.8, np.sin(t * 4 * math.pi) * 0.5
    scale = rng.uniform(16, 28)
    centre = rng.uniform(scale + 2, CANVAS - scale - 2, 2)
    return centre + scale * np.stack([x, y], 1)


def strokes(folder: Path, classes: Sequence[str], per_class: int, seed: int) -> Path:
    """One pen stroke of a kind: line, zigzag, wave, arc, spiral, loop."""
    rng = np.random.default_rng(seed)
    for label in classes:
        for i in range(per_class):
            image, ink = _canvas(rng)
            points = [tuple(p) for p in _stroke(label, rng)]
            ImageDraw.Draw(image).line(points, ink, int(rng.integers(2, 5)), joint="curve")
            _save(folder, label, i, _finish(image, rng, rotate=25))
    return folder


STYLES = {
    "plain": lambda image, rng: image,
    "gray": lambda image, rng: ImageOps.grayscale(image).convert("RGB"),
    "inverted": lambda image, rng: ImageOps.invert(image),
    "posterised": lambda image, rng: ImageOps.posterize(image, 2),
    "blurred": lambda image, rng: image.filter(ImageFilter.GaussianBlur(float(rng.uniform(2, 4)))),
    "sharp": lambda image, rng: image.filter(ImageFilter.UnsharpMask(4, 300, 0)),
    "mirrored": lambda image, rng: ImageOps.mirror(ImageOps.flip(image)),
}


def photo_styles(folder: Path, classes: Sequence[str], per_class: int, seed: int) -> Path:
    """Crops of scikit-learn's two sample photographs under a style named by the class
    (:data:`STYLES`); with ``blur-K`` classes, a Gaussian blur of radius K/2 instead."""
    rng = np.random.default_rng(seed)
    photos = load_sample_images().images
    for label in classes:
        for i in range(per_class):
            photo = photos[int(rng.integers(len(photos)))]
            top = int(rng.integers(0, photo.shape[0] - 64))
            left = int(rng.integers(0, photo.shape[1] - 64))
            crop = Image.fromarray(photo[top : top + 64, left : left + 64])
            if label.startswith("blur-"):
                styled = crop.filter(ImageFilter.GaussianBlur(int(label[5:]) / 2))
            else:
                styled = STYLES[label](crop, rng)
            small = np.asarray(styled.resize((SIDE, SIDE)), dtype=np.float32)
            _save(folder, label, i, small + rng.normal(0, 4, small.shape))
    return folder
