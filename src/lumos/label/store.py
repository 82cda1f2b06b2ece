"""A label project's SQLite store: images, each annotator's label with its revision, the
history of every save, pre-labels and reviews.

A save names the revision it started from; if the stored one has moved on since (another
tab, a reviewer), the save is refused with what is stored now: nothing is overwritten
silently. Every write runs in one ``BEGIN IMMEDIATE`` transaction.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from lumos.errors import LumosError, WorkspaceError
from lumos.workspace import transaction

SCHEMA = """
CREATE TABLE IF NOT EXISTS images (
    id INTEGER PRIMARY KEY, file TEXT UNIQUE NOT NULL, width INTEGER NOT NULL,
    height INTEGER NOT NULL, split TEXT);
CREATE TABLE IF NOT EXISTS labels (
    image_id INTEGER NOT NULL REFERENCES images(id), annotator TEXT NOT NULL,
    revision INTEGER NOT NULL, value TEXT NOT NULL, saved TEXT NOT NULL,
    prelabel_kept INTEGER, PRIMARY KEY (image_id, annotator));
CREATE TABLE IF NOT EXISTS history (
    image_id INTEGER NOT NULL, annotator TEXT NOT NULL, revision INTEGER NOT NULL,
    value TEXT NOT NULL, saved TEXT NOT NULL, saved_by TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS prelabels (
    image_id INTEGER PRIMARY KEY REFERENCES images(id), model TEXT NOT NULL,
    value TEXT NOT NULL, uncertainty REAL NOT NULL);
CREATE TABLE IF NOT EXISTS reviews (
    image_id INTEGER NOT NULL, annotator TEXT NOT NULL, reviewer TEXT NOT NULL,
    verdict TEXT NOT NULL, revision INTEGER NOT NULL, saved TEXT NOT NULL,
    PRIMARY KEY (image_id, annotator))
"""


class ConflictError(LumosError):
    """A save that started from a revision that is no longer the stored one."""

    def __init__(self, message: str, current: dict[str, Any]) -> None:
        super().__init__(message)
        self.current = current


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@contextlib.contextmanager
def connect(path: Path, *, write: bool = False) -> Iterator[sqlite3.Connection]:
    """One transaction on the store at ``path`` (created with its tables if new); ``write``
    takes the write lock at once, so a revision checked is still the one written over."""
    try:
        with transaction(path, "BEGIN IMMEDIATE" if write else "BEGIN") as db:
            for statement in SCHEMA.split(";"):
                db.execute(statement)
            yield db
    except sqlite3.DatabaseError as e:
        raise WorkspaceError(f"{path}: the label store failed: {e}") from e


def stored_label(db: sqlite3.Connection, image_id: int, annotator: str) -> dict[str, Any] | None:
    row = db.execute(
        "SELECT value, revision, saved FROM labels WHERE image_id = ? AND annotator = ?",
        (image_id, annotator),
    ).fetchone()
    if row is None:
        return None
    return {"value": json.loads(row["value"]), "revision": row["revision"], "saved": row["saved"]}


def clear_label(
    db: sqlite3.Connection, image_id: int, annotator: str, base: int, saved_by: str
) -> None:
    """Remove ``annotator``'s label (an undo back to nothing) if it is still revision ``base``."""
    current = stored_label(db, image_id, annotator)
    if current is None or current["revision"] != base:
        raise ConflictError(
            f"image {image_id} is at revision {current['revision'] if current else 0}, "
            f"not {base}: reload it to see the change",
            current or {},
        )
    db.execute("DELETE FROM labels WHERE image_id = ? AND annotator = ?", (image_id, annotator))
    db.execute(
        "INSERT INTO history VALUES (?, ?, ?, 'null', ?, ?)",
        (image_id, annotator, base + 1, now(), saved_by),
    )


def save_label(
    db: sqlite3.Connection,
    image_id: int,
    annotator: str,
    value: dict[str, Any],
    base: int,
    *,
    saved_by: str,
    prelabel_kept: bool | None,
) -> int:
    """Store ``value`` as ``annotator``'s label if the stored revision is still ``base``
    (0: none yet); returns the new revision, else raises :class:`ConflictError`."""
    current = stored_label(db, image_id, annotator)
    revision = current["revision"] if current else revision_of(db, image_id, annotator)
    if revision != base:
        who = "you" if saved_by == annotator else annotator
        raise ConflictError(
            f"image {image_id} was saved by {who} (revision {revision}) since you opened "
            f"revision {base}: reload it to see the change",
            current or {},
        )
    text, stamp = json.dumps(value), now()
    kept = None if prelabel_kept is None else int(prelabel_kept)
    db.execute(
        "INSERT INTO labels VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (image_id, annotator) DO "
        "UPDATE SET revision = excluded.revision, value = excluded.value, saved = excluded.saved, "
        "prelabel_kept = COALESCE(labels.prelabel_kept, excluded.prelabel_kept)",
        (image_id, annotator, revision + 1, text, stamp, kept),
    )
    db.execute(
        "INSERT INTO history VALUES (?, ?, ?, ?, ?, ?)",
        (image_id, annotator, revision + 1, text, stamp, saved_by),
    )
    return revision + 1


def revision_of(db: sqlite3.Connection, image_id: int, annotator: str) -> int:
    """The revision of ``annotator``'s label (0 if never saved); after a clear, the clear's:
    numbering goes on from it, so an editor that saw the label before is refused."""
    row = db.execute(
        "SELECT MAX(revision) AS r FROM history WHERE image_id = ? AND annotator = ?",
        (image_id, annotator),
    ).fetchone()
    return row["r"] or 0
