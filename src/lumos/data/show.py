"""A sample grid of a dataset as one PNG: DIGITS' explore page, with boxes and masks drawn."""

from __future__ import annotations

import colorsys
import functools
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from lumos.data.dataset import Dataset, Sample
from lumos.data.geometry import RESIZE_MODES, place_image, placement
from lumos.data.records import IGNORE_INDEX, SPLITS
from lumos.errors import DataError

CELL = 128
CAPTION = 16


def palette(count: int) -> list[tuple[int, int, int]]:
    """``count`` well separated colours."""
    return [
        tuple(int(255 * c) for c in colorsys.hsv_to_rgb((i * 0.618034) % 1.0, 0.85, 0.95))  # type: ignore[misc]
        for i in range(count)
    ]


@functools.cache
def _font() -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=11)


def select(dataset: Dataset, class_name: str | None) -> np.ndarray:
    """Positions of records that show ``class_name`` (all records when None)."""
    if class_name is None:
        return np.arange(len(dataset))
    if class_name not in dataset.classes:
        raise DataError(
            None, f"unknown class {class_name!r}: choose from {', '.join(dataset.classes)}"
        )
    target = dataset.classes.index(class_name)
    store = dataset.store
    labels = store.labels[dataset.indices]
    if labels.ndim == 2:
        return np.flatnonzero(labels[:, target]).astype(np.int64)
    if (labels >= 0).all():  # one class per record: no need to look at boxes or masks
        return np.flatnonzero(labels == target).astype(np.int64)
    hits = []
    for position, index in enumerate(dataset.indices):
        if store.labels[index] >= 0:
            hit = store.labels[index] == target
        elif len(store.box_labels):
            hit = bool((store.boxes_of(int(index))[1] == target).any())
        else:
            hit = bool((store.mask(int(index)) == target + 1).any())
        if hit:
            hits.append(position)
    return np.asarray(hits, dtype=np.int64)


def sample_grid(
    dataset: Dataset,
    out: Path,
    *,
    class_name: str | None = None,
    count: int = 64,
    seed: int = 0,
) -> Path:
    """Write up to ``count`` random records as a captioned grid PNG at ``out``."""
    positions = select(dataset, class_name)
    if not len(positions):
        what = "records" if class_name is None else f"records of class {class_name!r}"
        raise DataError(None, f"no {what} to show in {dataset.name!r} (or the split chosen)")
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(positions, min(count, len(positions)), replace=False))
    columns = int(np.ceil(np.sqrt(len(chosen))))
    rows = int(np.ceil(len(chosen) / columns))
    sheet = Image.new("RGB", (columns * CELL, rows * (CELL + CAPTION)), (24, 24, 24))
    colours = palette(len(dataset.classes))
    font = _font()
    for slot, position in enumerate(chosen):
        tile, caption = render(dataset[int(position)], dataset.classes, colours, font)
        x, y = (slot % columns) * CELL, (slot // columns) * (CELL + CAPTION)
        sheet.paste(tile, (x, y))
        ImageDraw.Draw(sheet).text(
            (x + 3, y + CELL + 2), caption[:22], fill=(230, 230, 230), font=font
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out)
    return out


def caption_of(classes: list[str], label: int | list[int], boxes: int, source: str) -> str:
    """A record's caption: its class(es), else its box count, else its file name."""
    if isinstance(label, list):
        return ",".join(classes[i] for i in label)
    if label >= 0:
        return classes[label]
    return f"{boxes} boxes" if boxes else source


def render(
    sample: Sample,
    classes: list[str],
    colours: list[tuple[int, int, int]],
    font: ImageFont.ImageFont | ImageFont.FreeTypeFont,
) -> tuple[Image.Image, str]:
    """One record as a CELL x CELL tile with its mask and boxes drawn, and its caption."""
    pixels = sample.image if sample.image.shape[2] == 3 else np.repeat(sample.image, 3, axis=2)
    if sample.mask is not None:
        overlay = pixels.astype(np.float32)
        for value in np.unique(sample.mask):
            if 0 < value <= len(classes):
                region = sample.mask == value
                overlay[region] = 0.55 * overlay[region] + 0.45 * np.array(colours[value - 1])
        overlay[sample.mask == IGNORE_INDEX] *= 0.4
        pixels = overlay.astype(np.uint8)
    height, width = pixels.shape[:2]
    scale = CELL / max(height, width)
    tile = Image.fromarray(pixels).resize(
        (max(1, round(width * scale)), max(1, round(height * scale))), Image.Resampling.NEAREST
    )
    draw = ImageDraw.Draw(tile)
    for box, label in zip(sample.boxes.tolist(), sample.box_labels.tolist(), strict=True):
        corners = [c * scale for c in box]
        draw.rectangle(corners, outline=colours[label], width=2)
        draw.text((corners[0] + 2, corners[1] + 1), classes[label], fill=colours[label], font=font)
    caption = caption_of(classes, sample.label, len(sample.boxes), sample.source)
    canvas = Image.new("RGB", (CELL, CELL), (24, 24, 24))
    canvas.paste(tile, ((CELL - tile.width) // 2, (CELL - tile.height) // 2))
    return canvas, caption


def browse(
    dataset: Dataset,
    *,
    split: str | None = None,
    class_name: str | None = None,
    page: int = 0,
    per_page: int = 60,
) -> dict:
    """One page of records for an explorer: store indices and captions, with the totals."""
    view = dataset.split(split) if split else dataset
    positions = select(view, class_name)
    pages = max(1, -(-len(positions) // per_page))
    if not 0 <= page < pages:
        raise DataError(None, f"page {page} out of range: {dataset.name!r} has {pages} pages")
    chosen = positions[page * per_page : (page + 1) * per_page]
    indices = view.indices[chosen]
    split_codes = dataset.store.splits[indices]
    store, records = dataset.store, []
    for index, code in zip(indices.tolist(), split_codes.tolist(), strict=True):
        label = store.labels[index]
        label = np.flatnonzero(label).tolist() if label.ndim == 1 else int(label)
        boxes = len(store.boxes_of(index)[0]) if len(store.box_labels) else 0
        caption = caption_of(dataset.classes, label, boxes, Path(store.sources[index]).name)
        records.append({"index": index, "split": SPLITS[code], "caption": caption})
    return {
        "total": len(positions),
        "page": page,
        "pages": pages,
        "per_page": per_page,
        "records": records,
    }


def tile(dataset: Dataset, index: int) -> Image.Image:
    """Record ``index`` (store index) drawn as one explorer tile, boxes and masks included."""
    if not 0 <= index < len(dataset.store):
        raise DataError(None, f"record {index} out of range for {len(dataset.store)} records")
    colours = palette(len(dataset.classes))
    return render(dataset.store_sample(index), dataset.classes, colours, _font())[0]


def resize_previews(image: Image.Image, size: tuple[int, int]) -> dict[str, Image.Image]:
    """``image`` as each resize mode would store it at ``size`` (width, height)."""
    return {
        mode: Image.fromarray(place_image(image, placement(image.size, size, mode), (0,)))
        for mode in RESIZE_MODES
    }
