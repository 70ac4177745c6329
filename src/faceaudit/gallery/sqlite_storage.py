"""The gallery's storage in one SQLite file: connections, transactions and the SQLite side of
the SQL; the rules are :class:`~faceaudit.gallery.store.GalleryStore`'s.

The file runs in WAL mode with ``secure_delete`` and ``synchronous = FULL``. Writers are
serialised with ``BEGIN IMMEDIATE`` and a busy timeout; readers use their own snapshot and never
block writers. Erased bytes leave the files by ``VACUUM`` and a truncating WAL checkpoint
(:meth:`SqliteStorage.compact`); an erasure first makes sure no reader pins the WAL
(:meth:`SqliteStorage.require_exclusive`).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from faceaudit.gallery.errors import ErasureBlockedError, ErasureIncompleteError, GalleryError
from faceaudit.gallery.records import NewTemplate, utc_iso

BUSY_TIMEOUT_S = 60.0

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS subjects (
    pk INTEGER PRIMARY KEY,
    subject_id TEXT NOT NULL UNIQUE,
    display_name TEXT,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS consents (
    consent_id INTEGER PRIMARY KEY,
    subject_pk INTEGER NOT NULL REFERENCES subjects(pk) ON DELETE CASCADE,
    legal_basis TEXT NOT NULL,
    evidence TEXT NOT NULL,
    obtained_at TEXT NOT NULL,
    expires_at TEXT
);
CREATE INDEX IF NOT EXISTS consents_subject ON consents(subject_pk);
CREATE TABLE IF NOT EXISTS templates (
    template_id INTEGER PRIMARY KEY,
    subject_pk INTEGER NOT NULL REFERENCES subjects(pk) ON DELETE CASCADE,
    backend_id TEXT NOT NULL,
    embedding BLOB NOT NULL,
    detector_score REAL,
    created_at TEXT NOT NULL,
    image_sha256 TEXT
);
CREATE INDEX IF NOT EXISTS templates_subject ON templates(subject_pk);
CREATE TABLE IF NOT EXISTS images (
    image_id INTEGER PRIMARY KEY,
    subject_pk INTEGER NOT NULL REFERENCES subjects(pk) ON DELETE CASCADE,
    data BLOB NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS images_subject ON images(subject_pk);
CREATE TABLE IF NOT EXISTS results (
    result_id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    actor TEXT NOT NULL,
    purpose TEXT,
    case_id TEXT,
    backend_id TEXT NOT NULL,
    threshold REAL NOT NULL,
    fmr_target REAL NOT NULL,
    faces TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS reviews (
    result_id TEXT PRIMARY KEY REFERENCES results(result_id),
    decision TEXT NOT NULL CHECK (decision IN ('confirm', 'reject')),
    reviewer TEXT NOT NULL,
    actor TEXT NOT NULL,
    note TEXT,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS review_tasks (
    task_id TEXT PRIMARY KEY,
    result_id TEXT NOT NULL REFERENCES results(result_id),
    face_index INTEGER NOT NULL,
    candidate_index INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (result_id, face_index, candidate_index)
);
CREATE TABLE IF NOT EXISTS review_decisions (
    task_id TEXT NOT NULL REFERENCES review_tasks(task_id),
    reviewer TEXT NOT NULL,
    decision TEXT NOT NULL CHECK (decision IN ('confirm', 'reject')),
    actor TEXT NOT NULL,
    note TEXT,
    created_at TEXT NOT NULL,
    PRIMARY KEY (task_id, reviewer)
);
CREATE TABLE IF NOT EXISTS lead_records (
    record_id INTEGER PRIMARY KEY,
    task_id TEXT NOT NULL REFERENCES review_tasks(task_id),
    step TEXT NOT NULL CHECK (step IN ('action', 'outcome')),
    kind TEXT NOT NULL,
    evidence TEXT,
    recorded_by TEXT NOT NULL,
    actor TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS probe_crops (
    result_id TEXT NOT NULL REFERENCES results(result_id),
    face_index INTEGER NOT NULL,
    data BLOB NOT NULL,
    expires_at TEXT NOT NULL,
    PRIMARY KEY (result_id, face_index)
);
CREATE TABLE IF NOT EXISTS holds (
    result_id TEXT PRIMARY KEY REFERENCES results(result_id),
    case_id TEXT,
    deadline TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS pending_events (
    intent_id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    events TEXT NOT NULL
);
INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', '1'), ('generation', '0');
"""

# Columns added after the first release, as (table, column, declaration).
MIGRATIONS = (("templates", "image_sha256", "TEXT"),)


class SqliteStorage:
    """:class:`~faceaudit.gallery.store.GalleryStorage` in the SQLite file at ``path``
    (created, with its schema, on first use)."""

    #: the table of counters and flags (``generation``, ``compact_pending``)
    meta_table = "meta"
    #: how a query selects a template's embedding (a little-endian float32 blob)
    embedding_sql = "embedding"

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._ready = False

    def describe(self) -> str:
        """Where the gallery lives, for messages."""
        return str(self.path)

    def exists(self) -> bool:
        """Whether the gallery database has been created."""
        return self.path.exists()

    # -- connections -------------------------------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        try:
            con = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
            con.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        except sqlite3.Error as exc:
            raise GalleryError(f"cannot open the gallery database {self.path}: {exc}") from None
        con.execute("PRAGMA secure_delete = ON")
        con.execute("PRAGMA foreign_keys = ON")
        con.execute("PRAGMA synchronous = FULL")
        return con

    def _connect(self) -> sqlite3.Connection:
        if not self._ready:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        con = self._open()
        if not self._ready:
            con.execute("PRAGMA journal_mode = WAL")
            con.executescript("BEGIN IMMEDIATE;" + SCHEMA + "COMMIT;")
            for table, column, declaration in MIGRATIONS:
                present = {row[1] for row in con.execute(f"PRAGMA table_info({table})")}
                if column not in present:
                    con.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")
            self._ready = True
        return con

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One serialised write transaction (BEGIN IMMEDIATE … COMMIT)."""
        con = self._connect()
        try:
            con.execute("BEGIN IMMEDIATE")
            yield con
            con.execute("COMMIT")
        except BaseException:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise
        finally:
            con.close()

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """One read transaction: a consistent snapshot that does not block writers."""
        con = self._connect()
        try:
            con.execute("BEGIN")
            yield con
            con.execute("COMMIT")
        finally:
            con.close()

    # -- the SQLite side of the SQL ----------------------------------------------------------

    @staticmethod
    def contains(column: str) -> str:
        """The condition "``column`` contains the text of the next parameter"."""
        return f"instr({column}, ?) > 0"

    def fit_dimension(self, con: sqlite3.Connection, dim: int) -> None:
        """Nothing to do: a blob holds an embedding of any dimension."""

    @staticmethod
    def add_templates(con: sqlite3.Connection, subject_pk: int, backend_id: str,
                      templates: Sequence[NewTemplate], created: str) -> list[int]:
        """Insert ``templates`` of one subject; return their new ids, in order."""
        ids = []
        for template in templates:
            blob = np.ascontiguousarray(template.embedding, dtype="<f4").tobytes()
            cursor = con.execute(
                "INSERT INTO templates(subject_pk, backend_id, embedding, detector_score, "
                "created_at, image_sha256) VALUES (?, ?, ?, ?, ?, ?)",
                (subject_pk, backend_id, blob, template.detector_score, created,
                 template.image_sha256),
            )
            assert cursor.lastrowid is not None  # an INSERT sets it
            ids.append(cursor.lastrowid)
        return ids

    def templates_added(self) -> None:
        """Nothing to do: the search index of a SQLite gallery lives in memory and the home."""

    @staticmethod
    def embedding_matrix(values: Sequence[bytes]) -> np.ndarray:
        """The ``(n, dim)`` float32 matrix of ``n`` selected embeddings (``n`` > 0)."""
        dim = len(values[0]) // 4
        return np.frombuffer(b"".join(values), dtype="<f4").reshape(len(values), dim).astype(
            np.float32)

    @staticmethod
    def subject_rows(con: sqlite3.Connection) -> list[tuple]:
        """(subject id, display name, created at, templates, images, consents as JSON) of
        every subject, by subject id."""
        return con.execute(
            "SELECT s.subject_id, s.display_name, s.created_at, "
            "(SELECT count(*) FROM templates t WHERE t.subject_pk = s.pk), "
            "(SELECT count(*) FROM images i WHERE i.subject_pk = s.pk), "
            "(SELECT json_group_array(json_object('legal_basis', legal_basis, "
            "'evidence', evidence, 'obtained_at', obtained_at, 'expires_at', expires_at)) "
            "FROM consents c WHERE c.subject_pk = s.pk) "
            "FROM subjects s ORDER BY s.subject_id"
        ).fetchall()

    # -- erasure: the WAL and the free pages -------------------------------------------------

    def _checkpoint(self, con: sqlite3.Connection, bound_s: float) -> bool:
        """Truncate the WAL, retrying until ``bound_s`` has passed; True when it succeeded."""
        deadline = time.monotonic() + bound_s
        while True:
            busy, _, _ = con.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            if busy == 0:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)

    def require_exclusive(self, bound_s: float) -> None:
        """Raise :class:`ErasureBlockedError` unless the WAL can be checkpointed and truncated
        within ``bound_s`` seconds (no other connection holds an old snapshot)."""
        con = self._connect()
        try:
            con.execute(f"PRAGMA busy_timeout = {int(bound_s * 1000)}")
            # a frame in the WAL first: an empty WAL would let the checkpoint pass while a
            # reader still pins the old pages of the database file
            con.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('erase_probe', ?)",
                        (utc_iso(datetime.now(UTC)),))
            if not self._checkpoint(con, bound_s):
                raise ErasureBlockedError(
                    f"another connection is reading {self.path}; an erasure needs every reader "
                    f"to let go (waited {bound_s:g} s) — nothing was erased, retry later"
                )
        finally:
            con.close()

    def compact(self, bound_s: float) -> None:
        """VACUUM the database and truncate its WAL, so deleted bytes leave both files, then
        clear ``compact_pending``.

        Raises :class:`ErasureIncompleteError` when a reader keeps the WAL from being truncated
        for ``bound_s`` seconds; the erasure stands and the next compaction finishes it.
        """
        con = self._connect()
        try:
            con.execute(f"PRAGMA busy_timeout = {int(bound_s * 1000)}")
            try:
                con.execute("VACUUM")
            except sqlite3.OperationalError as exc:
                raise ErasureIncompleteError(
                    f"the erased rows are deleted but {self.path} could not be compacted "
                    f"({exc}); their bytes remain on disk until the next compaction"
                ) from None
            if not self._checkpoint(con, bound_s):
                raise ErasureIncompleteError(
                    f"the erased rows are deleted but another connection reading {self.path} "
                    f"kept its WAL from being truncated for {bound_s:g} s; the bytes remain on "
                    "disk until that reader closes and the next compaction runs"
                )
            con.execute("DELETE FROM meta WHERE key = 'compact_pending'")
            self._checkpoint(con, bound_s)
        finally:
            con.close()
