"""The workspace: one folder with everything a user made, indexed by a SQLite store.

Layout: ``lumos.db`` (SQLite, WAL mode) beside ``datasets/``, ``jobs/`` and ``models/``.
The schema version lives in ``PRAGMA user_version``; :data:`MIGRATIONS` brings an older
store up to date, once, under an exclusive lock, so two processes may open it together.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from lumos.errors import WorkspaceError
from lumos.fileio import remove_stale_staging

DEFAULT_HOME = "lumos-workspace"
_FULL_DISK_BYTES = 1 << 20  # below this much free space a failing store is taken as full
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def _use_wal(db: sqlite3.Connection, seconds: float = 30.0) -> None:
    """Put the store in WAL mode (it stays so). The switch needs an exclusive lock that
    SQLite does not wait for, so two processes opening a new store together retry it."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


@contextlib.contextmanager
def transaction(path: Path, begin: str = "BEGIN") -> Iterator[sqlite3.Connection]:
    """One transaction on the SQLite store at ``path`` (WAL, foreign keys on, rows by name):
    committed on success, rolled back on error. ``sqlite3`` errors are the caller's to word;
    ``begin`` may be ``BEGIN IMMEDIATE`` to take the write lock at once."""
    db = sqlite3.connect(path, timeout=30.0, isolation_level=None)
    db.row_factory = sqlite3.Row
    try:
        _use_wal(db)
        db.execute("PRAGMA busy_timeout=30000")
        db.execute("PRAGMA foreign_keys=ON")
        db.execute(begin)
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
    finally:
        db.close()


def _run_script(db: sqlite3.Connection, script: str) -> None:
    # executescript() would COMMIT the open transaction; run statement by statement instead.
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


def _v1(db: sqlite3.Connection) -> None:
    _run_script(
        db,
        """
        CREATE TABLE datasets (
            name TEXT PRIMARY KEY,
            task TEXT NOT NULL,
            records INTEGER NOT NULL,
            classes INTEGER NOT NULL,
            source TEXT NOT NULL,
            created TEXT NOT NULL
        );
        CREATE TABLE jobs (
            id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            state TEXT NOT NULL,
            params TEXT NOT NULL,
            error TEXT,
            pid INTEGER,
            created TEXT NOT NULL,
            started TEXT,
            finished TEXT
        );
        CREATE INDEX jobs_by_state ON jobs(state);
        """,
    )


# Index i migrates a store from version i to version i + 1. Append, never edit.
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_v1]
SCHEMA_VERSION = len(MIGRATIONS)


def validate_name(name: str, what: str = "name") -> str:
    """Return ``name`` if it is safe as a folder name, else raise :class:`WorkspaceError`."""
    if not isinstance(name, str) or not _NAME.match(name) or name in {".", ".."}:
        raise WorkspaceError(
            f"invalid {what} {name!r}: use 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return name


class Workspace:
    """A workspace folder; cheap to construct, everything is created on first use."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root or os.environ.get("LUMOS_HOME") or DEFAULT_HOME).resolve()
        self.datasets_dir = self.root / "datasets"
        self.jobs_dir = self.root / "jobs"
        self.models_dir = self.root / "models"
        self.labels_dir = self.root / "labels"
        self.db_path = self.root / "lumos.db"
        self._ready = False

    def __repr__(self) -> str:
        return f"Workspace({str(self.root)!r})"

    def ensure(self) -> Workspace:
        """Create the folders and bring the store to the current schema."""
        if self._ready:
            return self
        try:
            for folder in (self.datasets_dir, self.jobs_dir, self.models_dir):
                folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise WorkspaceError(f"{self.root}: cannot create workspace: {e.strerror}") from e
        with self._connect() as db:
            self._migrate(db)
        remove_stale_staging(self.datasets_dir)
        self._ready = True
        return self

    @contextlib.contextmanager
    def db(self) -> Iterator[sqlite3.Connection]:
        """A connection for one short transaction: committed on success, rolled back on error."""
        self.ensure()
        with self._connect() as db:
            yield db

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            with transaction(self.db_path) as db:
                yield db
        except sqlite3.DatabaseError as e:
            raise WorkspaceError(f"{self.db_path}: {self._store_failure(e)}") from e

    def _store_failure(self, error: sqlite3.DatabaseError) -> str:
        """Why the store failed; SQLite reports a full disk as an I/O error."""
        if shutil.disk_usage(self.root).free < _FULL_DISK_BYTES:
            return "cannot write the store: No space left on device"
        return f"store is unreadable: {error}"

    def _migrate(self, db: sqlite3.Connection) -> None:
        # Take the write lock first so two processes never both migrate.
        db.execute("ROLLBACK")
        db.execute("BEGIN IMMEDIATE")
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise WorkspaceError(
                f"{self.db_path}: store has schema {version}, newer than this lumos "
                f"({SCHEMA_VERSION}); upgrade lumos"
            )
        for step in MIGRATIONS[version:]:
            step(db)
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    @property
    def schema_version(self) -> int:
        with self.db() as db:
            return int(db.execute("PRAGMA user_version").fetchone()[0])

    def dataset_dir(self, name: str) -> Path:
        return self.datasets_dir / validate_name(name, "dataset name")

    def label_dir(self, name: str) -> Path:
        """The folder of label project ``name``."""
        return self.labels_dir / validate_name(name, "label project name")
