"""Import a source into a dataset: scan, choose classes and splits, decode, store, measure.

The dataset is built in a staging folder and renamed into place only when complete, so an
import that fails or is killed leaves no half dataset and never harms an existing one.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from itertools import repeat
from multiprocessing import get_context
from pathlib import Path

import numpy as np
from PIL import Image

from lumos import __version__
from lumos.data import formats
from lumos.data.decode import Decoded, DecodePlan, decode_item
from lumos.data.encoded import chosen
from lumos.data.formats.clues import one_class_clue
from lumos.data.options import ImportOptions
from lumos.data.records import (
    IGNORE_INDEX,
    KINDS,
    SPLITS,
    DatasetKind,
    Problem,
    Scan,
    SourceItem,
)
from lumos.data.selection import all_grayscale, common_size, nothing_usable, select_items
from lumos.data.splits import split_codes
from lumos.data.stats import StatsAccumulator, box_stats, class_counts
from lumos.data.store import MANIFEST, StoreReader, StoreWriter
from lumos.errors import DataError, WorkspaceError
from lumos.fileio import staged_directory, write_json_atomic
from lumos.jobs import running_job
from lumos.threads import budget, cores
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
    job_id: str | None = None,
    reader: formats.Reader | None = None,
    **option_values: object,
) -> Path:
    """Import ``source`` as dataset ``name``; returns the dataset folder.

    ``options`` or keyword option values (see :class:`ImportOptions`) shape the dataset.
    ``reader`` reads ``source`` instead of a format's (a label project hands over its own).
    Raises :class:`DataError` when nothing usable is found and :class:`WorkspaceError`
    when ``name`` exists and ``overwrite`` is false. ``job_id`` names a queued import job
    to run; by default the import is a new job.
    """
    options = options or ImportOptions(**option_values)  # type: ignore[arg-type]
    workspace = (workspace or Workspace()).ensure()
    final = workspace.dataset_dir(name)
    if final.exists() and not overwrite:
        raise WorkspaceError(f"dataset {name!r} already exists: use --overwrite to replace it")
    params = {"source": str(source), "name": name, "options": options.model_dump(mode="json")}
    with running_job(workspace, "import", params, job_id) as record:

        def report(stage: str, done: int, total: int) -> None:
            record.report_progress(stage, done, total)
            if progress is not None:
                progress(stage, done, total)

        manifest = _import(source, name, options, final, overwrite, report, reader)
        _register(workspace, manifest)
        record.log(
            f"imported {manifest['records']} records into {final}; problems: {manifest['problems']}"
        )
        record.record_result(
            {"dataset": name, "records": manifest["records"], "classes": len(manifest["classes"])}
        )
    return final


def _import(
    source: str | Path,
    name: str,
    options: ImportOptions,
    final: Path,
    overwrite: bool,
    progress: ProgressFn | None,
    given: formats.Reader | None = None,
) -> dict:
    reader, location = (given, Path(source)) if given else formats.resolve(source, options.format)
    scan = formats.scan(reader, location, options.corners)
    kind = KINDS[options.task or scan.task]
    classes, items, splits = select_items(scan, kind, options, source)
    if kind.whole_images and len(classes) == 1 and not options.allow_one_class:
        clue = one_class_clue(location, classes[0])
        raise DataError(source, f"{clue}; --allow-one-class imports it anyway")
    height, width = options.size or common_size(items)
    names_masks = scan.classes is None and any(isinstance(i.mask, Path) for i in items)
    plan = DecodePlan(
        size=(width, height),
        channels=options.channels or (1 if all_grayscale(items) else 3),
        resize_mode=options.resize_mode,
        class_index={c: i for i, c in enumerate(classes)},
        # Masks that come without a class list get classes named after the values found.
        mask_classes=None if names_masks else len(classes),
        max_pixels=options.max_pixels,
        seed=options.seed,
    )
    work = _Import(name, source, reader.NAME, kind, scan, classes, items, splits, plan, options)
    try:
        with staged_directory(final, overwrite=overwrite) as staging:
            return _build(work, staging, progress)
    except FileExistsError:
        raise WorkspaceError(
            f"dataset {name!r} already exists: use --overwrite to replace it"
        ) from None
    except OSError as e:  # the workspace's disk, not a source file: those are reported
        raise WorkspaceError(
            f"{final.parent}: cannot store dataset {name!r}: {e.strerror or e}"
        ) from None


@dataclass
class _Import:
    """Everything decided before the first pixel is decoded."""

    name: str
    source: str | Path
    reader_name: str
    kind: DatasetKind
    scan: Scan
    classes: list[str]
    items: list[SourceItem]
    splits: list[str]
    plan: DecodePlan
    options: ImportOptions


def _build(job: _Import, staging: Path, progress: ProgressFn | None) -> dict:
    """Decode and store every item into ``staging``; write the report and the manifest."""
    width, height = job.plan.size
    problems = list(job.scan.problems)
    with_masks = any(item.mask is not None for item in job.items)
    shape = (height, width, job.plan.channels)
    encoding = chosen(job.options.encoding, len(job.items), shape)
    with StoreWriter(staging, shape, with_masks=with_masks, encoding=encoding) as writer:
        stored = _store_all(job, writer, problems, progress)
        if not len(writer):
            raise DataError(job.source, nothing_usable(problems))
        classes = job.classes
        if job.plan.mask_classes is None:
            classes = _classes_from_masks(stored.mask_values)
        writer.close(num_classes=len(classes), multi_label=job.scan.multi_label)
    manifest = _describe(StoreReader(staging), staging, job, classes, writer.digests, stored.stats)
    problems.extend(_class_warnings(job.kind, classes, manifest))
    manifest["problems"] = dict(Counter(p.kind for p in problems))
    manifest["duplicates"] = len(stored.duplicates)
    write_json_atomic(
        staging / "report.json",
        {"problems": [p.as_dict() for p in problems], "duplicates": stored.duplicates},
    )
    write_json_atomic(staging / MANIFEST, manifest)
    return manifest


def _decode_all(
    items: list[SourceItem], plan: DecodePlan, workers: int | None
) -> Iterator[Decoded | Problem]:
    if workers is None:
        workers = budget() or cores()
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
    job: _Import, writer: StoreWriter, problems: list[Problem], progress: ProgressFn | None
) -> _Stored:
    """Decode and append every item; training statistics are gathered as records pass."""
    items, codes = job.items, split_codes(job.splits)
    first_seen: dict[str, str] = {}
    groups: dict[str, list[str]] = {}
    stats = StatsAccumulator(writer.image_shape)
    pending: list[np.ndarray] = []
    mask_values = np.zeros(256, dtype=bool)
    results = _decode_all(items, job.plan, job.options.workers)
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
            if job.options.dedupe:
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


def _describe(
    store: StoreReader,
    folder: Path,
    job: _Import,
    classes: list[str],
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
        "name": job.name,
        "task": job.kind.name,
        "multi_label": job.scan.multi_label,
        "classes": classes,
        "size": [int(image.shape[0]), int(image.shape[1])],
        "channels": int(image.shape[2]),
        "resize_mode": job.options.resize_mode,
        "records": len(store),
        "splits": {s: int((store.splits == c).sum()) for c, s in enumerate(SPLITS)},
        "class_counts": class_counts(store, classes, multi_label=job.scan.multi_label),
        "mean": result.mean,
        "std": result.std,
        "has_boxes": bool(len(store.boxes)) or any(item.boxes for item in job.items),
        "has_masks": store.has_masks,
        "boxes": box_stats(store),
        "source": _describe_source(job.source),
        "format": job.reader_name,
        "provenance": job.scan.provenance,
        "options": job.options.model_dump(mode="json"),
        "fingerprint": fingerprint.hexdigest(),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "lumos_version": __version__,
    }


def _describe_source(source: str | Path) -> str:
    text = str(source)
    return text if formats.is_sample(text) else str(Path(source).resolve())


def _class_warnings(kind: DatasetKind, classes: list[str], manifest: dict) -> list[Problem]:
    warnings = []
    if kind.whole_images and len(classes) == 1:
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
