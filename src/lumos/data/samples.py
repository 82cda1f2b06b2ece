"""Built-in sample data, made on the spot with no network.

- ``digits``: scikit-learn's bundled 1,797 handwritten digits (8x8), upscaled to 28x28.
- ``shapes``: circles, squares and triangles drawn on varied backgrounds, with exact boxes
  and class-index masks, for detection and segmentation.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from lumos.data.records import Box, Scan, SourceItem

SHAPE_CLASSES = ["circle", "square", "triangle"]


def digits(size: int = 28) -> Scan:
    """scikit-learn's digits as 28x28 grayscale images, classes "0" to "9"."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    pixels = (bunch.images * (255.0 / 16.0)).round().astype(np.uint8)
    items = []
    for i, (small, target) in enumerate(zip(pixels, bunch.target, strict=True)):
        large = Image.fromarray(small).resize((size, size), Image.Resampling.BILINEAR)
        items.append(SourceItem(f"digits[{i}]", pixels=np.asarray(large), labels=(str(target),)))
    return Scan(task="classification", items=items, classes=[str(d) for d in range(10)])


def shapes(count: int = 300, size: int = 128, seed: int = 0) -> Scan:
    """Generated RGB images of one to four non-overlapping shapes, with boxes and masks;
    ``count`` of them, each drawn from ``seed`` and its index."""
    items = []
    for i in range(count):
        rng = np.random.default_rng((seed, i))
        image, mask, boxes = _draw_scene(rng, size)
        items.append(SourceItem(f"shapes[{i}]", pixels=image, boxes=tuple(boxes), mask=mask))
    return Scan(task="detection", items=items, classes=list(SHAPE_CLASSES))


def _background(rng: np.random.Generator, size: int) -> Image.Image:
    kind = rng.integers(4)
    a, b = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    ramp = np.linspace(0, 1, size)[:, None, None]
    if kind == 0:  # vertical gradient
        pixels = a * (1 - ramp) + b * ramp
        pixels = np.broadcast_to(pixels, (size, size, 3))
    elif kind == 1:  # noise around a colour
        pixels = a + rng.normal(0, 25, (size, size, 3))
    elif kind == 2:  # stripes
        period = int(rng.integers(6, 20))
        stripes = ((np.arange(size) // period) % 2)[None, :, None]
        pixels = np.where(stripes, a, b) * np.ones((size, 1, 1))
    else:  # checkerboard
        period = int(rng.integers(8, 24))
        idx = np.arange(size) // period
        board = ((idx[:, None] + idx[None, :]) % 2)[:, :, None]
        pixels = np.where(board, a, b)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def _draw_scene(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray, list[Box]]:
    image = _background(rng, size)
    mask = Image.new("L", (size, size), 0)
    paint, label_paint = ImageDraw.Draw(image), ImageDraw.Draw(mask)
    taken: list[tuple[int, int, int, int]] = []
    boxes = []
    for _ in range(int(rng.integers(1, 5))):
        for _attempt in range(30):
            side = int(rng.integers(size // 6, size // 2.5))
            x, y = (int(v) for v in rng.integers(0, size - side, 2))
            region = (x, y, x + side, y + side)
            if all(_apart(region, other) for other in taken):
                break
        else:
            continue
        taken.append(region)
        label = int(rng.integers(len(SHAPE_CLASSES)))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        outline = _outline(label, region)
        for canvas, fill in ((paint, colour), (label_paint, label + 1)):
            if label == 0:
                canvas.ellipse(region, fill=fill)
            else:
                canvas.polygon(outline, fill=fill)
        ys, xs = np.nonzero(np.asarray(mask)[y : y + side + 1, x : x + side + 1] == label + 1)
        boxes.append(
            Box(
                x + xs.min(), y + ys.min(), x + xs.max() + 1, y + ys.max() + 1, SHAPE_CLASSES[label]
            )
        )
    return np.asarray(image), np.asarray(mask), boxes


def _outline(label: int, region: tuple[int, int, int, int]) -> list[tuple[int, int]]:
    x1, y1, x2, y2 = region
    if label == 1:
        return [(x1, y1), (x2, y1), (x2, y2), (x1, y2)]
    return [((x1 + x2) // 2, y1), (x2, y2), (x1, y2)]


def _apart(a: tuple[int, int, int, int], b: tuple[int, int, int, int], gap: int = 2) -> bool:
    return a[2] + gap <= b[0] or b[2] + gap <= a[0] or a[3] + gap <= b[1] or b[3] + gap <= a[1]


SAMPLES = {"digits": digits, "shapes": shapes}


def sample_descriptions() -> dict[str, str]:
    """Each sample's name and the first paragraph of its description, as plain text (a
    name in ````code```` markup shown bare)."""
    return {
        name: " ".join((make.__doc__ or "").strip().split("\n\n")[0].split()).replace("``", "")
        for name, make in SAMPLES.items()
    }
