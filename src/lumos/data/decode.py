"""Turn one source item into stored arrays: decode, resize, rasterise, check annotations.

Runs in worker processes, so everything it takes and returns is picklable and it touches
no shared state.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lumos.data.geometry import (
    Placement,
    ResizeMode,
    place_boxes,
    place_image,
    place_mask,
    placement,
)
from lumos.data.images import DEFAULT_MAX_PIXELS, from_array, image_header, open_image
from lumos.data.records import IGNORE_INDEX, ColourMask, Problem, Shapes, SourceItem
from lumos.errors import DataError


@dataclass(frozen=True)
class DecodePlan:
    """How every item of one import is decoded."""

    size: tuple[int, int]  # (width, height)
    channels: int
    resize_mode: ResizeMode
    class_index: dict[str, int]
    mask_classes: int | None = None  # mask values must be at most this (or IGNORE_INDEX)
    max_pixels: int = DEFAULT_MAX_PIXELS
    seed: int = 0


@dataclass
class Decoded:
    """One item ready for the store."""

    image: np.ndarray  # (H, W, C) uint8
    labels: tuple[int, ...]
    boxes: np.ndarray  # (N, 4) float32, x1y1x2y2 in stored pixels
    box_labels: np.ndarray  # (N,) int64
    crowd: np.ndarray  # (N,) bool
    mask: np.ndarray | None  # (H, W) uint8
    digest: str
    problems: list[Problem] = field(default_factory=list)


def decode_item(position: int, item: SourceItem, plan: DecodePlan) -> Decoded | Problem:
    """Decode ``item``; a :class:`Problem` (kind "skipped") when it cannot be used."""
    try:
        return _decode(position, item, plan)
    except DataError as e:
        return Problem(item.source, e.reason)


def _decode(position: int, item: SourceItem, plan: DecodePlan) -> Decoded:
    if item.path is not None:
        im, full = open_image(
            item.path, channels=plan.channels, max_pixels=plan.max_pixels, draft_size=plan.size
        )
    elif item.pixels is not None:
        im = from_array(item.pixels, plan.channels)
        full = im.size
    else:
        raise DataError(item.source, "item has neither a file nor pixels")
    where = placement(full, plan.size, plan.resize_mode)
    image = place_image(im, where, (plan.seed, position))
    if image.ndim == 2:
        image = image[:, :, None]
    problems: list[Problem] = []
    boxes, box_labels, crowd = _place_boxes(item, full, where, plan, problems)
    mask = None
    if item.mask is not None:
        mask = place_mask(_source_mask(item, full, plan), where)
    digest = hashlib.blake2b(image.tobytes(), digest_size=16).hexdigest()
    labels = tuple(plan.class_index[name] for name in item.labels)
    return Decoded(image, labels, boxes, box_labels, crowd, mask, digest, problems)


_EDGE_TOLERANCE = 0.01  # pixels; rounding in normalised formats (YOLO) is not worth a warning
_NO_BOXES = (np.zeros((0, 4), np.float32), np.zeros(0, np.int64), np.zeros(0, bool))


def _place_boxes(
    item: SourceItem,
    full: tuple[int, int],
    where: Placement,
    plan: DecodePlan,
    problems: list[Problem],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if not item.boxes:
        return _NO_BOXES
    width, height = full
    kept: list[tuple[float, float, float, float]] = []
    labels: list[int] = []
    crowd: list[bool] = []
    for number, box in enumerate(item.boxes, 1):
        coords = (box.x1, box.y1, box.x2, box.y2)
        described = f"box {number} {box.label} [{', '.join(f'{c:g}' for c in coords)}]"
        if not all(np.isfinite(coords)):
            problems.append(Problem(item.source, f"{described} is not finite: dropped", "dropped"))
            continue
        clipped = (
            min(max(box.x1, 0), width),
            min(max(box.y1, 0), height),
            min(max(box.x2, 0), width),
            min(max(box.y2, 0), height),
        )
        if clipped[2] - clipped[0] <= 0 or clipped[3] - clipped[1] <= 0:
            reason = (
                "has zero area" if box.x2 <= box.x1 or box.y2 <= box.y1 else "is outside the image"
            )
            problems.append(Problem(item.source, f"{described} {reason}: dropped", "dropped"))
            continue
        if max(abs(a - b) for a, b in zip(clipped, coords, strict=True)) > _EDGE_TOLERANCE:
            problems.append(
                Problem(
                    item.source,
                    f"{described} extends outside the {width}x{height} image: clipped",
                    "warning",
                )
            )
        kept.append(clipped)
        labels.append(plan.class_index[box.label])
        crowd.append(box.crowd)
    boxes = np.asarray(kept, dtype=np.float32).reshape(-1, 4)
    boxes, keep = place_boxes(boxes, where)
    for number in np.flatnonzero(~keep):
        problems.append(
            Problem(
                item.source, f"box {number + 1} is cropped away by the resize: dropped", "dropped"
            )
        )
    return (
        boxes[keep],
        np.asarray(labels, dtype=np.int64)[keep],
        np.asarray(crowd, dtype=bool)[keep],
    )


def _source_mask(item: SourceItem, full: tuple[int, int], plan: DecodePlan) -> np.ndarray:
    width, height = full
    if isinstance(item.mask, Shapes):
        try:
            mask = rasterise(item.mask, plan.class_index)
        except (TypeError, ValueError, IndexError, KeyError) as e:
            raise DataError(item.source, f"malformed segmentation: {e}") from None
    elif isinstance(item.mask, np.ndarray):
        mask = item.mask
    else:
        path = item.mask.path if isinstance(item.mask, ColourMask) else item.mask
        try:
            mask = read_mask_png(item.mask)
        except DataError as e:
            raise DataError(item.source, f"mask {path.name} {e.reason}") from None
    if mask.shape != (height, width):
        raise DataError(
            item.source,
            f"mask is {mask.shape[1]}x{mask.shape[0]} but the image is {width}x{height}",
        )
    if plan.mask_classes is not None:
        values = np.unique(mask)
        bad = values[(values > plan.mask_classes) & (values != IGNORE_INDEX)]
        if bad.size:
            raise DataError(
                item.source,
                f"mask value {int(bad[0])} is not a class: expected 0 (background), "
                f"1-{plan.mask_classes} or {IGNORE_INDEX} (ignore)",
            )
    return mask.astype(np.uint8, copy=False)


def read_mask_png(source: Path | ColourMask) -> np.ndarray:
    """A class-index mask from a single-channel (L or P mode) PNG, or from a colour PNG
    through its colour table."""
    path = source.path if isinstance(source, ColourMask) else source
    with image_header(path) as im:
        single = im.mode in ("L", "P", "1")
        if not single and not (isinstance(source, ColourMask) and im.mode in ("RGB", "RGBA")):
            raise DataError(
                path, f"has mode {im.mode}: class-index masks are single-channel (L or P)"
            )
        try:
            pixels = np.asarray(im if single else im.convert("RGB"), dtype=np.uint8)
        except (OSError, ValueError, SyntaxError) as e:
            raise DataError(path, f"is corrupt: {e}") from None
    return pixels if single else _colour_values(pixels, source.colours, path)


def _colour_values(
    pixels: np.ndarray, colours: dict[tuple[int, int, int], int], path: Path
) -> np.ndarray:
    wide = pixels.astype(np.int32)
    codes = (wide[..., 0] << 16) | (wide[..., 1] << 8) | wide[..., 2]
    found, inverse = np.unique(codes, return_inverse=True)
    values = np.empty(len(found), dtype=np.uint8)
    for position, code in enumerate(found.tolist()):
        colour = (code >> 16, (code >> 8) & 255, code & 255)
        if colour not in colours:
            raise DataError(path, f"has colour {colour}, which is no class of the label map")
        values[position] = colours[colour]
    return values[inverse].reshape(codes.shape)


def rasterise(shapes: Shapes, class_index: dict[str, int]) -> np.ndarray:
    """Paint COCO polygons and RLE into a class-index mask (later shapes on top).

    Mask value 0 is the background and ``class_index[name] + 1`` the class.
    """
    from pycocotools import mask as coco_mask

    out = np.zeros((shapes.height, shapes.width), dtype=np.uint8)
    for name, segmentation in shapes.shapes:
        if isinstance(segmentation, dict) and isinstance(segmentation.get("counts"), str):
            rle = dict(segmentation, counts=segmentation["counts"].encode())
        else:
            rle = coco_mask.frPyObjects(segmentation, shapes.height, shapes.width)
        if isinstance(rle, list):
            rle = coco_mask.merge(rle)
        out[coco_mask.decode(rle).astype(bool)] = class_index[name] + 1
    return out
