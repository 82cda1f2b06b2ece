"""Choosing what an import keeps: classes, per-class limits, splits, size and channels.

All of it is decided from the scan, before any pixel is decoded.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np

from lumos.data.images import is_grayscale, read_size
from lumos.data.options import DEFAULT_LONGEST_SIDE, FALLBACK_SIZE, ImportOptions
from lumos.data.records import SPLITS, DatasetKind, Problem, Scan, Shapes, SourceItem
from lumos.data.splits import assign_splits
from lumos.errors import DataError


def select_items(
    scan: Scan, kind: DatasetKind, options: ImportOptions, source: str | Path
) -> tuple[list[str], list[SourceItem], list[str]]:
    """The class list, the items to import and their splits, ordered train, val, test."""
    classes = _final_classes(scan, options)
    items = _keep_known_classes(scan, classes)
    if kind.whole_images:
        items = _limit_per_class(scan, items, classes, options)
    if not items:
        raise DataError(source, nothing_usable(scan.problems))
    splits = assign_splits(
        [item.split for item in items],
        [_stratum(item) for item in items],
        val_percent=options.val_percent,
        test_percent=options.test_percent,
        seed=options.seed,
        stratify=options.stratify,
    )
    order = sorted(range(len(items)), key=lambda i: SPLITS.index(splits[i]))
    return classes, [items[i] for i in order], [splits[i] for i in order]


def _final_classes(scan: Scan, options: ImportOptions) -> list[str]:
    if options.classes is not None:
        return list(options.classes)
    if scan.classes is not None:
        return list(scan.classes)
    seen: set[str] = set()
    for item in scan.items:
        seen.update(item.labels)
        seen.update(box.label for box in item.boxes)
        if isinstance(item.mask, Shapes):
            seen.update(shape_name for shape_name, _ in item.mask.shapes)
    return sorted(seen, key=_natural_key)


def _natural_key(text: str) -> list[object]:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", text)]


def _keep_known_classes(scan: Scan, classes: list[str]) -> list[SourceItem]:
    """Skip records whose label is not a class; drop boxes and shapes of unknown classes."""
    known = set(classes)
    kept = []
    for item in scan.items:
        unknown = [label for label in item.labels if label not in known]
        if unknown:
            scan.skip(item.source, f"class {unknown[0]!r} is not in the class list")
            continue
        boxes = tuple(b for b in item.boxes if b.label in known)
        for box in item.boxes:
            if box.label not in known:
                scan.drop(item.source, f"box of unknown class {box.label!r}: dropped")
        mask = item.mask
        if isinstance(mask, Shapes):
            shapes = tuple(s for s in mask.shapes if s[0] in known)
            for shape_name, _ in mask.shapes:
                if shape_name not in known:
                    scan.drop(item.source, f"mask of unknown class {shape_name!r}: dropped")
            mask = replace(mask, shapes=shapes)
        kept.append(replace(item, boxes=boxes, mask=mask))
    return kept


def _limit_per_class(
    scan: Scan, items: list[SourceItem], classes: list[str], options: ImportOptions
) -> list[SourceItem]:
    by_class: dict[str, list[int]] = defaultdict(list)
    for i, item in enumerate(items):
        by_class[_stratum(item)].append(i)
    rng = np.random.default_rng(options.seed)
    keep: set[int] = set()
    for name, members in by_class.items():
        if len(members) < options.min_per_class:
            for i in members:
                scan.skip(
                    items[i].source,
                    f"class {name!r} has {len(members)} images, "
                    f"fewer than --min-per-class {options.min_per_class}",
                )
            classes.remove(name)
            continue
        if options.max_per_class is not None and len(members) > options.max_per_class:
            scan.warn(
                name,
                f"class {name!r}: kept {options.max_per_class} of {len(members)} images "
                f"(--max-per-class {options.max_per_class})",
            )
            members = sorted(rng.choice(members, options.max_per_class, replace=False))
        keep.update(members)
    return [item for i, item in enumerate(items) if i in keep]


def _stratum(item: SourceItem) -> str:
    if item.labels:
        return item.labels[0]
    if item.boxes:
        return item.boxes[0].label
    return ""


def common_size(items: list[SourceItem]) -> tuple[int, int]:
    """(height, width): the most common size among up to 200 items, if not too large."""
    sizes: Counter[tuple[int, int]] = Counter()
    for item in items[:: max(1, len(items) // 200)]:
        if item.pixels is not None:
            sizes[(item.pixels.shape[0], item.pixels.shape[1])] += 1
        elif item.path is not None:
            try:
                width, height = read_size(item.path)
            except DataError:
                continue
            sizes[(height, width)] += 1
    if not sizes:
        return FALLBACK_SIZE
    size = sizes.most_common(1)[0][0]
    return size if max(size) <= DEFAULT_LONGEST_SIDE else FALLBACK_SIZE


def all_grayscale(items: list[SourceItem]) -> bool:
    """Whether every sampled item is single-channel; unreadable files are left to the decoder,
    which reports them."""
    sample = items[:: max(1, len(items) // 50)]
    for item in sample:
        if item.pixels is not None:
            if item.pixels.ndim == 3 and item.pixels.shape[2] != 1:
                return False
        elif item.path is not None:
            try:
                if not is_grayscale(item.path):
                    return False
            except DataError:
                continue
    return True


def nothing_usable(problems: list[Problem]) -> str:
    skipped = [p for p in problems if p.kind == "skipped"]
    if not skipped:
        return "no images found"
    first = skipped[0]
    return f"no usable images: {len(skipped)} skipped (first: {first.file}: {first.reason})"
