"""The image sets of `transfer.py`, made on the spot from what ships with the installed
packages: scikit-learn's handwritten digits and sample photographs, Pillow's font, drawn
shapes, gratings, noise textures and colours. Every set is 32x32 RGB, one folder a class.

Each maker takes the folder, the classes (names it knows), images a class and a seed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from sklearn.datasets import load_digits, load_sample_images

SIDE = 32
Maker = Callable[[Path, Sequence[str], int, int], Path]


def _save(folder: Path, label: str, index: int, pixels: np.ndarray) -> None:
    path = folder / label / f"{index:05d}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(path)


def _canvas(rng: np.random.Generator) -> tuple[Image.Image, tuple[int, ...]]:
    """A plain background and a contrasting ink colour."""
    background = tuple(int(v) for v in rng.integers(0, 110, 3))
    ink = tuple(int(v) for v in rng.integers(150, 256, 3))
    return Image.new("RGB", (SIDE * 2, SIDE * 2), background), ink


def _finish(image: Image.Image, rng: np.random.Generator, rotate: float = 15) -> np.ndarray:
    """Rotated a little, shrunk to 32x32 with some noise."""
    angle = float(rng.uniform(-rotate, rotate))
    image = image.rotate(angle, Image.Resampling.BILINEAR, fillcolor=image.getpixel((0, 0)))
    small = np.asarray(image.resize((SIDE, SIDE), Image.Resampling.LANCZOS), dtype=np.float32)
    return small + rng.normal(0, 6, small.shape)


def handwritten_digits(folder: Path, classes: Sequence[str], per_class: int, seed: int) -> Path:
    """scikit-learn's 8x8 handwritten digits, enlarged, shifted, tinted."""
    rng = np.random.default_rng(seed)
    digits = load_digits()
    for label in classes:
        pool = digits.images[digits.target == int(label)]
        for i in range(per_class):
            glyph = Image.fromarray((pool[rng.integers(len(pool))] * 16).astype(np.uint8))
            size = int(rng.integers(36, 56))
            glyph = glyph.resize((size, size), Image.Resampling.BILINEAR)
            image, ink = _canvas(rng)
            offset = tuple(int(v) for v in rng.integers(0, SIDE * 2 - size + 1, 2))
            image.paste(Image.new("RGB", glyph.size, ink), offset, glyph)
            _save(folder, label, i, _finish(image, rng))
    return folder


def glyphs(folder: Path, classes: Sequence[str], per_class: int, seed: int) -> Path:
    """Characters in Pillow's built-in font: any size, place, colour and a small tilt."""
    rng = np.random.default_rng(seed)
    for label in classes:
        for i in range(per_class):
            image, ink = _canvas(rng)
            font = ImageFont.load_default(size=int(rng.integers(30, 48)))
            x, y = (int(v) for v in rng.integers(4, 22, 2))
            ImageDraw.Draw(image).text((x, y), label, fill=ink, font=font)
            _save(folder, label, i, _finish(image, rng))
    return folder


def _polygon(kind: str, centre: np.ndarray, radius: float, turn: float) -> list[tuple]:
    corners = {"triangle": 3, "square": 4, "diamond": 4, "pentagon": 5, "hexagon": 6}
    if kind == "star":
        angles = np.arange(10) * math.pi / 5 + turn
        radii = np.where(np.arange(10) % 2 == 0, radius, radius * 0.45)
    else:
        count = corners[kind]
        angles = np.arange(count) * 2 * math.pi / count + turn + (math.pi / 4 * (kind == "diamond"))
        radii = np.full(count, radius)
    points = centre + radii[:, None] * np.stack([np.cos(angles), np.sin(angles)], 1)
    return [tuple(point) for point in points]


def shapes(folder: Path, classes: Sequence[str], per_class: int, seed: int) -> Path:
    """Filled or outlined shapes: circle, ring, cross, bar, and the regular polygons."""
    rng = np.random.default_rng(seed)
    for label in classes:
        for i in range(per_class):
            image, ink = _canvas(rng)
            draw = ImageDraw.Draw(image)
            radius = float(rng.uniform(12, 26))
            centre = rng.uniform(radius + 2, SIDE * 2 - radius - 2, 2)
            box = [*(centre - radius), *(centre + radius)]
            width = int(rng.integers(3, 7))
            if label == "circle":
                draw.ellipse(box, fill=ink)
            elif label == "ring":
                draw.ellipse(box, outline=ink, width=width)
            elif label in ("cross", "bar"):
                arms = [(0, 1)] if label == "bar" else [(0, 1), (1, 0)]
                for dx, dy in arms:
                    offset = np.array([dx, dy]) * radius
                    draw.line([tuple(centre - offset), tuple(centre + offset)], ink, width * 2)
            else:
                draw.polygon(_polygon(label, centre, radius, float(rng.uniform(0, 0.3))), fill=ink)
            _save(folder, label, i, _finish(image, rng, rotate=10))
    return folder


def gratings(folder: Path, classes: Sequence[str], per_class: int, seed: int) -> Path:
    """Sine gratings whose orientation (the class name, in degrees) is the class."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:SIDE, 0:SIDE].astype(np.float32)
    for label in classes:
        angle = math.radians(float(label))
        for i in range(per_class):
            frequency = rng.uniform(0.15, 0.6)
            wave = np.sin(
                frequency * (x * math.cos(angle) + y * math.sin(angle)) + rng.uniform(0, 6.3)
            )
            low, high = rng.integers(0, 100, 3), rng.integers(150, 256, 3)
            pixels = low + (high - low) * (wave[..., None] + 1) / 2
            _save(folder, label, i, pixels + rng.normal(0, 10, pixels.shape))
    return folder


def textures(folder: Path, classes: Sequence[str], per_class: int, seed: int) -> Path:
    """Noise of one kind a class: white, pink (1/f), brown (1/f^2), checks, dots."""
    rng = np.random.default_rng(seed)
    fy, fx = np.meshgrid(np.fft.fftfreq(SIDE), np.fft.fftfreq(SIDE), indexing="ij")
    frequency = np.maximum(np.hypot(fx, fy), 1 / SIDE)
    y, x = np.mgrid[0:SIDE, 0:SIDE]
    for label in classes:
        for i in range(per_class):
            if label in ("white", "pink", "brown"):
                power = {"white": 0, "pink": 1, "brown": 2}[label]
                spectrum = np.fft.fft2(rng.normal(size=(SIDE, SIDE))) / frequency**power
                field = np.real(np.fft.ifft2(spectrum))
            elif label == "checks":
                cell = int(rng.integers(2, 8))
                field = ((x + rng.integers(cell)) // cell + (y + rng.integers(cell)) // cell) % 2
            else:  # dots
                field = (rng.random((SIDE, SIDE)) < rng.uniform(0.02, 0.08)).astype(float)
            field = (field - field.min()) / max(np.ptp(field), 1e-6)
            tint = rng.uniform(0.4, 1.0, 3) * 255
            pixels = field[..., None] * tint
            _save(folder, label, i, pixels + rng.normal(0, 8, pixels.shape))
    return folder


HUES = {"red": 0, "orange": 30, "yellow": 60, "green": 120, "cyan": 180, "blue": 240,
        "purple": 280, "pink": 330}  # fmt: skip


def colours(folder: Path, classes: Sequence[str], per_class: int, seed: int) -> Path:
    """Blotches of one hue a class on a grey background."""
    rng = np.random.default_rng(seed)
    for label in classes:
        for i in range(per_class):
            hue = (HUES[label] + rng.uniform(-12, 12)) % 360
            image = Image.new("HSV", (SIDE, SIDE), (0, 0, int(rng.integers(40, 200))))
            draw = ImageDraw.Draw(image)
            for _ in range(int(rng.integers(1, 4))):
                box = sorted(rng.integers(0, SIDE, 2)), sorted(rng.integers(0, SIDE, 2))
                fill = (
                    int(hue / 360 * 255),
                    int(rng.integers(150, 256)),
                    int(rng.integers(120, 256)),
                )
                draw.ellipse([box[0][0], box[1][0], box[0][1] + 4, box[1][1] + 4], fill=fill)
            pixels = np.asarray(image.convert("RGB"), dtype=np.float32)
            _save(folder, label, i, pixels + rng.normal(0, 6, pixels.shape))
    return folder


def coloured_shapes(folder: Path, classes: Sequence[str], per_class: int, seed: int) -> Path:
    """Any shape; the class is its colour (red, green, blue, yellow)."""
    rng = np.random.default_rng(seed)
    inks = {
        "red": (220, 40, 40),
        "green": (40, 200, 60),
        "blue": (50, 70, 230),
        "yellow": (230, 220, 40),
    }
    kinds = ["circle", "square", "triangle", "star", "hexagon"]
    for label in classes:
        for i in range(per_class):
            image = Image.new(
                "RGB", (SIDE * 2, SIDE * 2), tuple(int(v) for v in rng.integers(0, 90, 3))
            )
            radius = float(rng.uniform(12, 26))
            centre = rng.uniform(radius + 2, SIDE * 2 - radius - 2, 2)
            kind = kinds[int(rng.integers(len(kinds)))]
            ink = tuple(int(np.clip(v + rng.normal(0, 20), 0, 255)) for v in inks[label])
            draw = ImageDraw.Draw(image)
            if kind == "circle":
                draw.ellipse([*(centre - radius), *(centre + radius)], fill=ink)
            else:
                draw.polygon(_polygon(kind, centre, radius, float(rng.uniform(0, 1))), fill=ink)
            _save(folder, label, i, _finish(image, rng))
    return folder


def photo_patches(folder: Path, classes: Sequence[str], per_class: int, seed: int) -> Path:
    """32x32 crops of scikit-learn's two sample photographs (a temple, a flower), the
    class naming the photograph and its half: china-top, china-bottom, flower-top, ..."""
    rng = np.random.default_rng(seed)
    photos = dict(zip(("china", "flower"), load_sample_images().images, strict=True))
    for label in classes:
        name, half = label.split("-")
        photo = photos[name]
        height, width = photo.shape[:2]
        rows = (0, height // 2 - 64) if half == "top" else (height // 2, height - 64)
        for i in range(per_class):
            top, left = int(rng.integers(*rows)), int(rng.integers(0, width - 64))
            crop = Image.fromarray(photo[top : top + 64, left : left + 64])
            _save(folder, label, i, np.asarray(crop.resize((SIDE, SIDE)), dtype=np.float32))
    return folder


def random_labels(folder: Path, classes: Sequence[str], per_class: int, seed: int) -> Path:
    """Smooth noise images under labels that mean nothing: a network can only memorise."""
    rng = np.random.default_rng(seed)
    for label in classes:
        for i in range(per_class):
            coarse = rng.integers(0, 256, (8, 8, 3)).astype(np.uint8)
            pixels = np.asarray(Image.fromarray(coarse).resize((SIDE, SIDE)), dtype=np.float32)
            _save(folder, label, i, pixels + rng.normal(0, 10, pixels.shape))
    return folder
