"""Import a source into a dataset: scan, choose classes and splits, decode, store, measure.

The dataset is built in a staging folder and renamed into place only when complete, so an
import that fails or is killed leaves no half dataset and never harms an existing one.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from itertools import repeat
from multiprocessing import get_context
from pathlib import Path

import numpy as np
from PIL import Image

from lumos import __version__
from lumos.data import formats
from lumos.data.decode import Decoded, DecodePlan, decode_item
from lumos.data.images import is_grayscale, read_size
from lumos.data.options import DEFAULT_LONGEST_SIDE, FALLBACK_SIZE, ImportOptions
from lumos.data.records import IGNORE_INDEX, SPLITS, Problem, Scan, Shapes, SourceItem, Task
from lumos.data.splits import assign_splits, split_codes
from lumos.data.stats import StatsAccumulator, class_counts
from lumos.data.store import MANIFEST, StoreReader, StoreWriter
from lumos.errors import DataError, WorkspaceError
from lumos.fileio import staged_directory, write_json_atomic
from lumos.workspace import Workspace

ProgressFn = Callable[[str, int, int], None]
"""Called as ``progress(stage, done, total)`` while an import runs."""

_PARALLEL_FROM = 256  # fewer files decode faster in process than a pool starts
_STATS_BATCH = 512


def import_dataset(
    source: str | Path,
    name: str,
    options: ImportOptions | None = None,
    *,
    workspace: Workspace | None = None,
    overwrite: bool = False,
    progress: ProgressFn | None = None,
    **option_values: object,
) -> Path:
    """Import ``source`` as dataset ``name``; returns the dataset folder.

    ``options`` or keyword option values (see :class:`ImportOptions`) shape the dataset.
    Raises :class:`DataError` when nothing usable is found and :class:`WorkspaceError`
    when ``name`` exists and ``overwrite`` is false.
    """
    options = options or ImportOptions(**option_values)  # type: ignore[arg-type]
    workspace = (workspace or Workspace()).ensure()
    final = workspace.dataset_dir(name)
    if final.exists() and not overwrite:
        raise WorkspaceError(f"dataset {name!r} already exists: use --overwrite to replace it")
    reader, location = formats.resolve(source, options.format)
    scan = reader.scan(location)
    task = options.task or scan.task
    classes, items, splits = _select(scan, task, options, source)
    height, width = options.size or _common_size(items)
    channels = options.channels or (1 if _all_grayscale(items) else 3)
    masks_need_classes = scan.classes is None and any(isinstance(i.mask, Path) for i in items)
    plan = DecodePlan(
        size=(width, height),
        channels=channels,
        resize_mode=options.resize_mode,
        class_index={c: i for i, c in enumerate(classes)},
        mask_classes=None if masks_need_classes else len(classes),
        max_pixels=options.max_pixels,
        seed=options.seed,
    )
    problems = list(scan.problems)
    with staged_directory(final, overwrite=overwrite) as staging:
        writer = StoreWriter(
            staging, (height, width, channels), with_masks=any(i.mask is not None for i in items)
        )
        stored = _store_all(items, splits, plan, writer, problems, options, progress)
        if not len(writer):
            raise DataError(source, _nothing_usable(problems))
        if masks_need_classes:
            classes = _classes_from_masks(stored.mask_values)
        writer.close(num_classes=len(classes), multi_label=scan.multi_label)
        manifest = _describe(
            StoreReader(staging),
            staging,
            name=name,
            task=task,
            classes=classes,
            scan=scan,
            source=source,
            reader_name=reader.NAME,
            options=options,
            digests=writer.digests,
            stats=stored.stats,
        )
        problems.extend(_class_warnings(task, classes, manifest))
        manifest["problems"] = dict(Counter(p.kind for p in problems))
        manifest["duplicates"] = len(stored.duplicates)
        write_json_atomic(
            staging / "report.json",
            {"problems": [p.as_dict() for p in problems], "duplicates": stored.duplicates},
        )
        write_json_atomic(staging / MANIFEST, manifest)
    _register(workspace, manifest)
    return final


def _select(
    scan: Scan, task: Task, options: ImportOptions, source: str | Path
) -> tuple[list[str], list[SourceItem], list[str]]:
    """The class list, the items to import and their splits, ordered train, val, test."""
    classes = _final_classes(scan, options)
    items = _keep_known_classes(scan, classes)
    if task == "classification":
        items = _limit_per_class(scan, items, classes, options)
    if not items:
        raise DataError(source, _nothing_usable(scan.problems))
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


def _common_size(items: list[SourceItem]) -> tuple[int, int]:
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


def _all_grayscale(items: list[SourceItem]) -> bool:
    sample = items[:: max(1, len(items) // 50)]
    for item in sample:
        if item.pixels is not None:
            if item.pixels.ndim == 3 and item.pixels.shape[2] != 1:
                return False
        elif item.path is not None and not is_grayscale(item.path):
            return False
    return True


def _decode_all(
    items: list[SourceItem], plan: DecodePlan, workers: int | None
) -> Iterator[Decoded | Problem]:
    if workers is None:
        workers = os.cpu_count() or 1
    files = sum(item.path is not None for item in items)
    if workers <= 1 or files < _PARALLEL_FROM:
        yield from map(decode_item, range(len(items)), items, repeat(plan))
        return
    # fork, as torch's DataLoader does on Linux: workers start at once and plain scripts
    # need no __main__ guard. Elsewhere, spawn.
    method = "fork" if sys.platform == "linux" else "spawn"
    pool = ProcessPoolExecutor(workers, mp_context=get_context(method))
    try:
        chunk = max(1, min(64, len(items) // (workers * 8)))
        yield from pool.map(decode_item, range(len(items)), items, repeat(plan), chunksize=chunk)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


@dataclass
class _Stored:
    """What storing every item learned on the way."""

    duplicates: list[list[str]]
    stats: StatsAccumulator
    mask_values: np.ndarray  # (256,) bool: mask values seen


def _store_all(
    items: list[SourceItem],
    splits: list[str],
    plan: DecodePlan,
    writer: StoreWriter,
    problems: list[Problem],
    options: ImportOptions,
    progress: ProgressFn | None,
) -> _Stored:
    """Decode and append every item; training statistics are gathered as records pass."""
    codes = split_codes(splits)
    first_seen: dict[str, str] = {}
    groups: dict[str, list[str]] = {}
    stats = StatsAccumulator(writer.image_shape)
    pending: list[np.ndarray] = []
    mask_values = np.zeros(256, dtype=bool)
    results = _decode_all(items, plan, options.workers)
    for done, (item, code, result) in enumerate(zip(items, codes, results, strict=True), 1):
        if progress:
            progress("import", done, len(items))
        if isinstance(result, Problem):
            problems.append(result)
            continue
        problems.extend(result.problems)
        original = first_seen.setdefault(result.digest, item.source)
        if original != item.source:
            groups.setdefault(result.digest, [original]).append(item.source)
            if options.dedupe:
                problems.append(
                    Problem(item.source, f"duplicate of {original}: skipped (--dedupe)")
                )
                continue
        writer.append(result, split=int(code), source=item.source)
        if result.mask is not None:
            mask_values |= np.bincount(result.mask.ravel(), minlength=256) > 0
        if code == 0:
            pending.append(result.image)
            if len(pending) == _STATS_BATCH:
                stats.add(np.stack(pending))
                pending.clear()
    if pending:
        stats.add(np.stack(pending))
    return _Stored(list(groups.values()), stats, mask_values)


def _classes_from_masks(values: np.ndarray) -> list[str]:
    """Class names for masks that came without a class list: one per value up to the highest."""
    seen = np.flatnonzero(values[1:IGNORE_INDEX]) + 1
    highest = int(seen.max()) if len(seen) else 0
    return [f"class_{v}" for v in range(1, highest + 1)]


def _nothing_usable(problems: list[Problem]) -> str:
    skipped = [p for p in problems if p.kind == "skipped"]
    if not skipped:
        return "no images found"
    first = skipped[0]
    return f"no usable images: {len(skipped)} skipped (first: {first.file}: {first.reason})"


def _describe(
    store: StoreReader,
    folder: Path,
    *,
    name: str,
    task: Task,
    classes: list[str],
    scan: Scan,
    source: str | Path,
    reader_name: str,
    options: ImportOptions,
    digests: list[str],
    stats: StatsAccumulator,
) -> dict:
    """Write the mean image and build the manifest."""
    if not stats.count:  # no training records: describe all of them instead
        for start in range(0, len(store), _STATS_BATCH):
            stats.add(store.images(np.arange(start, min(start + _STATS_BATCH, len(store)))))
    result = stats.result()
    np.save(folder / "mean.npy", result.mean_image)
    mean_pixels = result.mean_image.round().astype(np.uint8)
    Image.fromarray(mean_pixels[:, :, 0] if mean_pixels.shape[2] == 1 else mean_pixels).save(
        folder / "mean.png"
    )
    fingerprint = hashlib.sha256()
    fingerprint.update(json.dumps(classes).encode())
    fingerprint.update("".join(digests).encode())
    for array in (store.labels, store.splits, store.boxes, store.box_labels):
        fingerprint.update(np.ascontiguousarray(array).tobytes())
    image = store.image(0)
    return {
        "lumos_dataset": 1,
        "name": name,
        "task": task,
        "multi_label": scan.multi_label,
        "classes": classes,
        "size": [int(image.shape[0]), int(image.shape[1])],
        "channels": int(image.shape[2]),
        "resize_mode": options.resize_mode,
        "records": len(store),
        "splits": {s: int((store.splits == c).sum()) for c, s in enumerate(SPLITS)},
        "class_counts": class_counts(store, classes, multi_label=scan.multi_label),
        "mean": result.mean,
        "std": result.std,
        "has_boxes": bool(len(store.boxes)) or any(item.boxes for item in scan.items),
        "has_masks": store.has_masks,
        "source": str(source if str(source).startswith("sample:") else Path(source).resolve()),
        "format": reader_name,
        "options": options.model_dump(mode="json"),
        "fingerprint": fingerprint.hexdigest(),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "lumos_version": __version__,
    }


def _class_warnings(task: Task, classes: list[str], manifest: dict) -> list[Problem]:
    warnings = []
    if task == "classification" and len(classes) == 1:
        warnings.append(
            Problem(
                manifest["source"],
                f"only one class ({classes[0]!r}): a classifier needs at least two",
                "warning",
            )
        )
    train_counts = manifest["class_counts"].get("train", {})
    for name in classes:
        if train_counts.get(name, 0) == 0:
            warnings.append(
                Problem(manifest["source"], f"class {name!r} has no training examples", "warning")
            )
    return warnings


def _register(workspace: Workspace, manifest: dict) -> None:
    with workspace.db() as db:
        db.execute(
            "INSERT OR REPLACE INTO datasets (name, task, records, classes, source, created) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                manifest["name"],
                manifest["task"],
                manifest["records"],
                len(manifest["classes"]),
                manifest["source"],
                manifest["created"],
            ),
        )
