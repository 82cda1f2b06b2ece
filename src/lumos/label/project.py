"""Label projects: images being labelled by people (and pre-labelled by a model).

A project lives in ``<workspace>/labels/<name>/``: ``project.json`` (kind, classes),
``images/`` (copies of the images, so the project does not depend on where they came
from) and ``labels.db`` (see :mod:`lumos.label.store`).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from lumos.data.images import is_image_name, read_size
from lumos.errors import DataError, NotFoundError, WorkspaceError
from lumos.fileio import write_json_atomic
from lumos.label.store import (
    clear_label,
    connect,
    now,
    revision_of,
    save_label,
    stored_label,
)
from lumos.tasks import TASKS
from lumos.tasks.labelling import LabelError, LabelKind, Value
from lumos.workspace import Workspace, validate_name

PROJECT_FILE = "project.json"
ANNOTATOR_LIMIT = 64


@dataclass
class ProjectInfo:
    """What ``project.json`` holds."""

    name: str
    task: str
    classes: list[str]
    multi_label: bool = False
    created: str = field(default_factory=now)
    source: str = ""


def check_annotator(name: Any) -> str:
    """An annotator's name as given, if usable; else :class:`LabelError`."""
    if not isinstance(name, str) or not name.strip() or len(name) > ANNOTATOR_LIMIT:
        raise LabelError(f"name yourself: an annotator name of 1-{ANNOTATOR_LIMIT} characters")
    return name.strip()


def label_kinds() -> dict[str, LabelKind]:
    """What people label, for each task they can label (``Task.label_kind``)."""
    return {name: task.label_kind for name, task in TASKS.items() if task.label_kind}


def kind_named(task: str) -> LabelKind:
    """What a project of ``task`` labels; LabelError for a task nobody labels by hand."""
    kinds = label_kinds()
    if task not in kinds:
        raise LabelError(f"unknown kind of project {task!r}: choose from {', '.join(kinds)}")
    return kinds[task]


class LabelProject:
    """One label project on disk."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        try:
            self.info = ProjectInfo(**json.loads((folder / PROJECT_FILE).read_text()))
        except FileNotFoundError:
            raise NotFoundError(f"no label project named {folder.name!r}") from None
        except (ValueError, TypeError) as e:
            raise WorkspaceError(f"{folder / PROJECT_FILE}: damaged ({e})") from None
        self.kind: LabelKind = kind_named(self.info.task)
        self.db_path = folder / "labels.db"

    @classmethod
    def create(
        cls,
        name: str,
        task: str,
        classes: list[str],
        *,
        multi_label: bool = False,
        source: str = "",
        workspace: Workspace | None = None,
    ) -> LabelProject:
        """A new, empty project; :class:`LabelError` for a bad kind or class list."""
        kind = kind_named(task)
        names = [c.strip() for c in classes if c.strip()]
        if not names or len(set(names)) != len(names):
            raise LabelError("a project needs a list of distinct class names")
        if multi_label and not kind.multi_label:
            raise LabelError("multi-label is for classification projects")
        folder = (workspace or Workspace()).ensure().label_dir(name)
        if folder.exists():
            raise WorkspaceError(f"label project {name!r} already exists")
        (folder / "images").mkdir(parents=True)
        info = ProjectInfo(name, task, names, multi_label, source=source)
        write_json_atomic(folder / PROJECT_FILE, asdict(info))
        return cls(folder)

    @classmethod
    def open(cls, name: str, workspace: Workspace | None = None) -> LabelProject:
        return cls((workspace or Workspace()).label_dir(name))

    @property
    def name(self) -> str:
        return self.info.name

    def add_images(self, files: Iterable[tuple[Path, str]], split: str | None = None) -> list[str]:
        """Copy ``(path, name)`` image files into the project; returns the problems (files
        that are not images or cannot be read), each named. Names already present are
        skipped."""
        problems = []
        with connect(self.db_path, write=True) as db:
            for path, name in files:
                relative = PurePosixPath(name.replace("\\", "/"))
                if (
                    relative.is_absolute()
                    or ".." in relative.parts
                    or not is_image_name(Path(name))
                ):
                    problems.append(f"{name}: not an image file name")
                    continue
                try:
                    width, height = read_size(path)
                except DataError as e:
                    problems.append(f"{name}: {e.reason}")
                    continue
                target = self.folder / "images" / relative
                if db.execute("SELECT 1 FROM images WHERE file = ?", (str(relative),)).fetchone():
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target)
                db.execute(
                    "INSERT INTO images (file, width, height, split) VALUES (?, ?, ?, ?)",
                    (str(relative), width, height, split),
                )
        return problems

    def image(self, image_id: int) -> dict[str, Any]:
        with connect(self.db_path) as db:
            row = db.execute("SELECT * FROM images WHERE id = ?", (image_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no image {image_id} in label project {self.name!r}")
        return dict(row)

    def image_path(self, image_id: int) -> Path:
        return self.folder / "images" / self.image(image_id)["file"]

    def label(self, image_id: int, annotator: str) -> dict[str, Any]:
        """An image for ``annotator``: its label (revision 0: none yet), the pre-label, and
        the other annotators' labels (for review)."""
        image = self.image(image_id)
        with connect(self.db_path) as db:
            mine = stored_label(db, image_id, annotator)
            revision = revision_of(db, image_id, annotator)
            pre = db.execute("SELECT * FROM prelabels WHERE image_id = ?", (image_id,)).fetchone()
            others = db.execute(
                "SELECT annotator, value, revision, saved FROM labels WHERE image_id = ? "
                "AND annotator != ? ORDER BY annotator",
                (image_id, annotator),
            ).fetchall()
            reviews = db.execute("SELECT * FROM reviews WHERE image_id = ?", (image_id,)).fetchall()
        return {
            "image": image,
            "value": mine["value"] if mine else None,
            "revision": revision,
            "prelabel": None if pre is None else {
                "model": pre["model"], "value": json.loads(pre["value"]),
                "uncertainty": pre["uncertainty"],
            },
            "others": [dict(row) | {"value": json.loads(row["value"])} for row in others],
            "reviews": [dict(row) for row in reviews],
        }  # fmt: skip

    def save(
        self, image_id: int, annotator: str, value: Any, base: int, *, saved_by: str | None = None
    ) -> int:
        """Store ``annotator``'s label of an image, checked for this project; ``base`` is
        the revision the editor started from. Returns the new revision."""
        annotator = check_annotator(annotator)
        image = self.image(image_id)
        info = self.info
        checked = self.kind.check(
            value, info.classes, info.multi_label, (image["width"], image["height"])
        )
        with connect(self.db_path, write=True) as db:
            pre = db.execute(
                "SELECT value FROM prelabels WHERE image_id = ?", (image_id,)
            ).fetchone()
            kept = None if pre is None else self.kind.same(json.loads(pre["value"]), checked)
            by = check_annotator(saved_by or annotator)
            return save_label(
                db, image_id, annotator, checked, base, saved_by=by, prelabel_kept=kept
            )

    def clear(
        self, image_id: int, annotator: str, base: int, *, saved_by: str | None = None
    ) -> None:
        """Remove ``annotator``'s label of an image (undo back to unlabelled), if it is still
        revision ``base``."""
        self.image(image_id)
        with connect(self.db_path, write=True) as db:
            clear_label(
                db,
                image_id,
                check_annotator(annotator),
                base,
                check_annotator(saved_by or annotator),
            )

    def review(self, image_id: int, annotator: str, reviewer: str, verdict: str) -> None:
        """Accept or reject ``annotator``'s current label of an image."""
        if verdict not in ("accepted", "rejected"):
            raise LabelError("a review is 'accepted' or 'rejected'")
        with connect(self.db_path, write=True) as db:
            label = stored_label(db, image_id, annotator)
            if label is None:
                raise LabelError(f"{annotator} has not labelled image {image_id}")
            db.execute(
                "INSERT OR REPLACE INTO reviews VALUES (?, ?, ?, ?, ?, ?)",
                (image_id, annotator, check_annotator(reviewer), verdict, label["revision"], now()),
            )

    def set_prelabels(self, model: str, prelabels: Iterable[tuple[int, Value, float]]) -> int:
        with connect(self.db_path, write=True) as db:
            rows = [(i, model, json.dumps(v), u) for i, v, u in prelabels]
            db.executemany("INSERT OR REPLACE INTO prelabels VALUES (?, ?, ?, ?)", rows)
        return len(rows)

    def rows(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        """Rows of a read-only query on the store (for the queue, agreement and progress)."""
        with connect(self.db_path) as db:
            return [dict(row) for row in db.execute(sql, args).fetchall()]


def list_projects(workspace: Workspace | None = None) -> list[LabelProject]:
    root = (workspace or Workspace()).labels_dir
    folders = (
        sorted(p for p in root.iterdir() if (p / PROJECT_FILE).is_file()) if root.is_dir() else []
    )
    return [LabelProject(folder) for folder in folders]


def remove_project(name: str, workspace: Workspace | None = None) -> None:
    folder = LabelProject.open(validate_name(name, "label project name"), workspace).folder
    shutil.rmtree(folder)
