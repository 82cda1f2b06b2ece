"""Reading a stored dataset: ``Dataset.open(name)``, records, splits and the catalogue."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from lumos.data.records import KINDS, SPLITS, DatasetKind
from lumos.data.store import MANIFEST, StoreReader, read_manifest
from lumos.errors import DataError, LumosError, NotFoundError, WorkspaceError
from lumos.jobs import active_jobs_using
from lumos.workspace import Workspace


@dataclass(frozen=True)
class Sample:
    """One stored record. Boxes are x1y1x2y2 in stored pixels; ``label`` is -1 if none."""

    index: int
    image: np.ndarray  # (H, W, C) uint8
    label: int | list[int]
    boxes: np.ndarray
    box_labels: np.ndarray
    crowd: np.ndarray
    mask: np.ndarray | None
    split: str
    source: str


class Dataset(Sequence[Sample]):
    """A stored dataset, or one split of it (``dataset.split("train")``)."""

    def __init__(self, folder: Path, indices: np.ndarray | None = None) -> None:
        self.folder = folder
        self.manifest: dict[str, Any] = read_manifest(folder)
        self.store = StoreReader(folder)
        self.indices = np.arange(len(self.store)) if indices is None else indices

    @classmethod
    def open(cls, name: str, workspace: Workspace | None = None) -> Dataset:
        """Open dataset ``name`` of ``workspace`` (default: ``$LUMOS_HOME``)."""
        folder = (workspace or Workspace()).dataset_dir(name)
        if not (folder / MANIFEST).is_file():
            raise NotFoundError(f"no dataset named {name!r} (see `lumos data list`)")
        return cls(folder)

    @classmethod
    def unchanged(cls, name: str, fingerprint: str, workspace: Workspace) -> Dataset | None:
        """Dataset ``name`` if the workspace still holds it with content ``fingerprint``."""
        try:
            dataset = cls.open(name, workspace)
        except LumosError:
            return None
        return dataset if dataset.manifest["fingerprint"] == fingerprint else None

    def split(self, name: str) -> Dataset:
        """The records of one split, as a dataset of its own."""
        if name not in SPLITS:
            raise DataError(None, f"unknown split {name!r}: choose from {', '.join(SPLITS)}")
        code = SPLITS.index(name)
        return self.subset(np.flatnonzero(self.store.splits[self.indices] == code))

    def subset(self, positions: Sequence[int] | np.ndarray) -> Dataset:
        """The records at ``positions`` (of this dataset or split), as a dataset of its own."""
        view = Dataset.__new__(Dataset)
        view.folder, view.manifest, view.store = self.folder, self.manifest, self.store
        view.indices = self.indices[np.asarray(positions, dtype=np.int64)]
        return view

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, position: int) -> Sample:  # type: ignore[override]
        if not -len(self) <= position < len(self):
            raise IndexError(f"record {position} out of range for {len(self)} records")
        return self.store_sample(int(self.indices[position]))

    def store_sample(self, index: int) -> Sample:
        """The record with store index ``index`` (``Sample.index``), whatever the split."""
        boxes, box_labels, crowd = self.store.boxes_of(index)
        label = self.store.labels[index]
        return Sample(
            index=index,
            image=self.store.image(index),
            label=np.flatnonzero(label).tolist() if self.multi_label else int(label),
            boxes=boxes,
            box_labels=box_labels,
            crowd=crowd,
            mask=self.store.mask(index),
            split=SPLITS[self.store.splits[index]],
            source=self.store.sources[index],
        )

    def __iter__(self) -> Iterator[Sample]:
        for position in range(len(self)):
            yield self[position]

    def __repr__(self) -> str:
        return f"Dataset({self.name!r}, task={self.task!r}, records={len(self)})"

    def images(self, positions: Sequence[int] | np.ndarray) -> np.ndarray:
        """A batch of images (n, H, W, C) uint8 for positions in this dataset or split."""
        return self.store.images(self.indices[np.asarray(positions, dtype=np.int64)])

    def masks(self, positions: Sequence[int] | np.ndarray) -> np.ndarray:
        """A batch of class-index masks (n, H, W) for positions in this dataset or split."""
        return self.store.masks(self.indices[np.asarray(positions, dtype=np.int64)])

    def boxes(
        self, positions: Sequence[int] | np.ndarray
    ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """(boxes x1y1x2y2, class indices, crowd flags) of each position, in stored pixels."""
        return [self.store.boxes_of(int(self.indices[p])) for p in positions]

    def labels(self) -> np.ndarray:
        return self.store.labels[self.indices]

    @property
    def name(self) -> str:
        return self.manifest["name"]

    @property
    def task(self) -> str:
        return self.manifest["task"]

    @property
    def kind(self) -> DatasetKind:
        return KINDS[self.task]

    @property
    def has_class_labels(self) -> bool:
        """Whether records carry image-level classes (rather than boxes or masks)."""
        return self.kind.whole_images

    @property
    def has_boxes(self) -> bool:
        return bool(self.manifest.get("has_boxes"))

    @property
    def has_masks(self) -> bool:
        return bool(self.manifest.get("has_masks"))

    @property
    def classes(self) -> list[str]:
        return list(self.manifest["classes"])

    @property
    def multi_label(self) -> bool:
        return bool(self.manifest["multi_label"])

    @property
    def size(self) -> tuple[int, int]:
        """(height, width) of every stored image."""
        return tuple(self.manifest["size"])  # type: ignore[return-value]

    @property
    def channels(self) -> int:
        return int(self.manifest["channels"])

    @property
    def mean(self) -> list[float]:
        return list(self.manifest["mean"])

    @property
    def std(self) -> list[float]:
        return list(self.manifest["std"])

    @cached_property
    def mean_image(self) -> np.ndarray:
        return np.load(self.folder / "mean.npy")

    @cached_property
    def report(self) -> dict[str, Any]:
        """Skipped files, dropped annotations and warnings, each with its reason."""
        return json.loads((self.folder / "report.json").read_text())

    def summary(self) -> str:
        """One line: records per split, classes, stored size; and the problem counts, if any."""
        splits = ", ".join(f"{k} {v}" for k, v in self.manifest["splits"].items() if v)
        height, width = self.size
        line = (
            f"{self.name}: {len(self)} records ({splits}), {len(self.classes)} classes, "
            f"{width}x{height}x{self.channels}"
        )
        counts = self.manifest.get("problems")
        if counts:
            detail = ", ".join(f"{n} {kind}" for kind, n in counts.items())
            line += f"\nproblems: {detail} — see `lumos data info {self.name}`"
        return line

    def info(self) -> dict[str, Any]:
        """The manifest plus the import report: what ``lumos data info --json`` prints."""
        return {**self.manifest, "report": self.report}


def list_datasets(workspace: Workspace | None = None) -> list[dict[str, Any]]:
    """Every dataset of the workspace, from its store, kept in step with the folders."""
    workspace = (workspace or Workspace()).ensure()
    on_disk = {p.name: p for p in workspace.datasets_dir.iterdir() if (p / MANIFEST).is_file()}
    with workspace.db() as db:
        rows = {row["name"]: dict(row) for row in db.execute("SELECT * FROM datasets")}
        for name in rows.keys() - on_disk.keys():
            db.execute("DELETE FROM datasets WHERE name = ?", (name,))
            del rows[name]
        for name in on_disk.keys() - rows.keys():
            manifest = read_manifest(on_disk[name])
            row = {
                "name": name,
                "task": manifest["task"],
                "records": manifest["records"],
                "classes": len(manifest["classes"]),
                "source": manifest["source"],
                "created": manifest["created"],
            }
            db.execute(
                "INSERT OR REPLACE INTO datasets "
                "VALUES (:name, :task, :records, :classes, :source, :created)",
                row,
            )
            rows[name] = row
    return [rows[name] for name in sorted(rows)]


def remove_dataset(name: str, workspace: Workspace | None = None) -> None:
    """Delete dataset ``name``: its row first, then its folder."""
    workspace = (workspace or Workspace()).ensure()
    folder = workspace.dataset_dir(name)
    if not folder.exists():
        raise NotFoundError(f"no dataset named {name!r} (see `lumos data list`)")
    users = active_jobs_using(workspace, name)
    if users:
        raise WorkspaceError(
            f"dataset {name!r} is used by {', '.join(users)}: "
            "let it end or abort it before removing the dataset"
        )
    # Move it aside first: a removal cut short never leaves a half dataset under its name.
    trash = Path(tempfile.mkdtemp(prefix=f".trash-{os.getpid()}-{name}-", dir=folder.parent))
    folder.replace(trash / name)
    with workspace.db() as db:
        db.execute("DELETE FROM datasets WHERE name = ?", (name,))
    shutil.rmtree(trash)
