"""Where the gallery lives: subjects, consent, templates, identification results, reviews.

:class:`GalleryStore` is the interface the rest of faceaudit uses; :class:`SqliteGalleryStore`
is the default implementation (one SQLite file in WAL mode with ``secure_delete``), so that a
PostgreSQL store can follow without touching the callers.

Writers are serialised with ``BEGIN IMMEDIATE`` and a busy timeout; readers use their own
snapshot and never block writers. Every change to the set of templates bumps a ``generation``
counter in the same transaction, so an in-memory search index can tell whether it is current.

Every write method takes an optional :class:`Intent`: the ledger events that will record the
write are stored in ``pending_events`` *in the same transaction*, so a crash between the commit
and the ledger append can be rolled forward (see ``faceaudit.deployment.oplog``).
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from faceaudit.gallery.errors import (
    AlreadyReviewedError,
    BackendMismatchError,
    ErasureBlockedError,
    ErasureIncompleteError,
    GalleryError,
    InvalidSubjectIdError,
    UnknownResultError,
    UnknownSubjectError,
)

if TYPE_CHECKING:
    from faceaudit.base.home import Home

SUBJECT_ID_PATTERN = re.compile(r"[A-Za-z0-9._:@-]{1,128}")
BUSY_TIMEOUT_S = 60.0
#: How long an erasure waits for readers to let go before it fails loudly (seconds).
ERASE_CHECKPOINT_BOUND_S = 10.0

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
CREATE TABLE IF NOT EXISTS pending_events (
    intent_id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    events TEXT NOT NULL
);
INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', '1'), ('generation', '0');
"""

# Columns added after the first release, as (table, column, declaration).
MIGRATIONS = (("templates", "image_sha256", "TEXT"),)


def utc_iso(moment: datetime) -> str:
    """Return ``moment`` as a second-precision UTC ISO-8601 string (naive means UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def refuse_other_backend(held: str | None, backend_id: str) -> None:
    """Refuse (:class:`BackendMismatchError`) templates of ``backend_id`` for a gallery that
    already holds templates of another backend (``held``; None for an empty gallery)."""
    if held is not None and held != backend_id:
        raise BackendMismatchError(
            f"the gallery holds {held} templates; {backend_id} templates are refused")


def check_subject_id(subject_id: str) -> str:
    """Return ``subject_id`` if it is a valid opaque id, else raise InvalidSubjectIdError."""
    if not isinstance(subject_id, str) or not SUBJECT_ID_PATTERN.fullmatch(subject_id):
        raise InvalidSubjectIdError(
            f"invalid subject id {subject_id!r}: use 1-128 letters, digits or ._:@-"
        )
    return subject_id


@dataclass(frozen=True)
class Consent:
    """The legal basis on which a subject's face is held, and until when."""

    legal_basis: str
    evidence: str
    obtained_at: datetime
    expires_at: datetime | None = None


@dataclass(frozen=True)
class NewTemplate:
    """One embedding to enrol, with the detector score of the face it came from."""

    embedding: np.ndarray
    detector_score: float | None = None
    image_sha256: str | None = None


@dataclass(frozen=True)
class TemplateSet:
    """Every template of one backend: row ``i`` of ``embeddings`` belongs to ``subject_ids[i]``."""

    template_ids: np.ndarray
    subject_ids: list[str]
    embeddings: np.ndarray
    generation: int


@dataclass(frozen=True)
class WriteResult:
    """What a write changed: affected template ids and the store generation after it."""

    template_ids: list[int]
    generation: int
    subject_ids: list[str] = field(default_factory=list)
    images: int = 0
    image_sha256s: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Intent:
    """A logged intent to write: its id and how to build the ledger events of the outcome.

    The store calls ``events(outcome)`` inside the write transaction and keeps the result in
    ``pending_events`` until :meth:`SqliteGalleryStore.clear_intent`, so the commit and the
    record of it can never part: recovery appends what is pending.
    """

    intent_id: str
    events: Callable[[Any], list[dict[str, Any]]]


class GalleryStore(Protocol):
    """The storage interface of a gallery: :class:`SqliteGalleryStore` (the default) and
    :class:`~faceaudit.gallery.postgres.PgGalleryStore` (PostgreSQL + pgvector)."""

    def exists(self) -> bool:
        """Whether the gallery's storage has been created."""
        ...

    def pending_intent(self, intent_id: str) -> list[dict[str, Any]] | None:
        """The ledger events a committed write still owes the ledger, or None."""
        ...

    def pending_intent_ids(self) -> list[str]:
        """Ids of every write whose ledger events are still pending."""
        ...

    def clear_intent(self, intent_id: str) -> None:
        """Forget the pending events of ``intent_id`` (they are in the ledger now)."""
        ...

    def compact_pending(self) -> bool:
        """True when an erasure committed but its bytes may still be in the files."""
        ...

    def compact(self, bound_s: float | None = None) -> None:
        """Make the bytes of erased rows leave the files (ErasureIncompleteError if blocked)."""
        ...

    def gallery_backend(self) -> str | None:
        """The backend id of the stored templates, or None when there are none."""
        ...

    def generation(self) -> int:
        """A counter bumped by every change to the set of templates."""
        ...

    def enrol(
        self,
        subject_id: str,
        *,
        display_name: str | None,
        consent: Consent,
        backend_id: str,
        templates: list[NewTemplate],
        images: list[bytes],
        now: datetime,
        intent: Intent | None = None,
    ) -> WriteResult:
        """Add a subject (or add to one), its consent record, templates and kept images."""
        ...

    def erase(self, subject_id: str, *, intent: Intent | None = None,
              compact: bool = True) -> WriteResult:
        """Delete a subject and everything about it, leaving no embedding bytes in the files."""
        ...

    def purge(self, now: datetime, *, intent: Intent | None = None,
              compact: bool = True) -> WriteResult:
        """Erase every subject all of whose consent records expired at or before ``now``."""
        ...

    def load_templates(self, backend_id: str) -> TemplateSet:
        """Every template of ``backend_id`` as one matrix, with a consistent generation."""
        ...

    def template_owners(self, backend_id: str) -> TemplateSet:
        """The ids and subjects of every template of ``backend_id``, without the embeddings
        (an empty ``(0, 0)`` matrix): what a persisted search index is checked against."""
        ...

    def subject_templates(self, subject_id: str) -> np.ndarray:
        """The (n, dim) templates of one subject."""
        ...

    def list_subjects(self) -> list[dict]:
        """Subjects with their consent and template counts — never embeddings."""
        ...

    def subject_count(self, backend_id: str) -> int:
        """How many subjects have templates of ``backend_id``: the size of its 1:N gallery."""
        ...

    def save_result(self, result: dict, *, intent: Intent | None = None) -> None:
        """Store an identification result (no probe biometrics) for later human review."""
        ...

    def get_result(self, result_id: str) -> dict:
        """Return a stored identification result with its review, if any."""
        ...

    def add_review(
        self, result_id: str, *, decision: str, reviewer: str, actor: str, note: str | None,
        now: datetime, intent: Intent | None = None,
    ) -> dict:
        """Record the one human decision on an identification result."""
        ...


class SqliteGalleryStore:
    """:class:`GalleryStore` on one SQLite file (WAL, ``secure_delete``, synchronous=FULL)."""

    def __init__(self, path: Path, *, erase_bound_s: float = ERASE_CHECKPOINT_BOUND_S):
        self.path = Path(path)
        #: how long an erasure waits for readers before failing loudly (seconds)
        self.erase_bound_s = erase_bound_s
        self._ready = False

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
    def _write(self) -> Iterator[sqlite3.Connection]:
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
    def _read(self) -> Iterator[sqlite3.Connection]:
        """One read transaction: a consistent snapshot that does not block writers."""
        con = self._connect()
        try:
            con.execute("BEGIN")
            yield con
            con.execute("COMMIT")
        finally:
            con.close()

    @staticmethod
    def _generation(con: sqlite3.Connection) -> int:
        return int(con.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0])

    def _bump(self, con: sqlite3.Connection) -> int:
        con.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'")
        return self._generation(con)

    @staticmethod
    def _note_intent(con: sqlite3.Connection, intent: Intent | None, outcome: Any) -> None:
        """Keep the ledger events of this write beside it, in the same transaction."""
        if intent is None:
            return
        con.execute(
            "INSERT INTO pending_events(intent_id, created_at, events) VALUES (?, ?, ?)",
            (intent.intent_id, utc_iso(datetime.now(UTC)), json.dumps(intent.events(outcome))),
        )

    def pending_intent(self, intent_id: str) -> list[dict[str, Any]] | None:
        """The ledger events a committed write still owes the ledger, or None (not committed,
        or already recorded and cleared)."""
        with self._read() as con:
            row = con.execute(
                "SELECT events FROM pending_events WHERE intent_id = ?", (intent_id,)
            ).fetchone()
        return None if row is None else json.loads(row[0])

    def pending_intent_ids(self) -> list[str]:
        """Ids of every write whose ledger events are still pending."""
        with self._read() as con:
            return [r[0] for r in con.execute(
                "SELECT intent_id FROM pending_events ORDER BY created_at")]

    def clear_intent(self, intent_id: str) -> None:
        """Forget the pending events of ``intent_id`` (they are in the ledger now)."""
        with self._write() as con:
            con.execute("DELETE FROM pending_events WHERE intent_id = ?", (intent_id,))

    @staticmethod
    def _subject_pk(con: sqlite3.Connection, subject_id: str) -> int:
        row = con.execute("SELECT pk FROM subjects WHERE subject_id = ?", (subject_id,)).fetchone()
        if row is None:
            raise UnknownSubjectError(f"no subject {subject_id!r} in the gallery")
        return int(row[0])

    # -- templates ---------------------------------------------------------------------------

    def gallery_backend(self) -> str | None:
        """The backend id of the stored templates, or None when there are none."""
        with self._read() as con:
            row = con.execute("SELECT backend_id FROM templates LIMIT 1").fetchone()
        return None if row is None else str(row[0])

    def generation(self) -> int:
        """A counter bumped by every change to the set of templates."""
        with self._read() as con:
            return self._generation(con)

    def enrol(
        self,
        subject_id: str,
        *,
        display_name: str | None,
        consent: Consent,
        backend_id: str,
        templates: list[NewTemplate],
        images: list[bytes],
        now: datetime,
        intent: Intent | None = None,
    ) -> WriteResult:
        """Add a subject (or add to one), its consent record, templates and kept images.

        Refuses (BackendMismatchError) templates of a backend other than the gallery's.
        """
        check_subject_id(subject_id)
        created = utc_iso(now)
        with self._write() as con:
            row = con.execute("SELECT backend_id FROM templates LIMIT 1").fetchone()
            refuse_other_backend(row[0] if row else None, backend_id)
            con.execute(
                "INSERT INTO subjects(subject_id, display_name, created_at) VALUES (?, ?, ?) "
                "ON CONFLICT(subject_id) DO UPDATE SET "
                "display_name = coalesce(excluded.display_name, display_name)",
                (subject_id, display_name, created),
            )
            pk = self._subject_pk(con, subject_id)
            con.execute(
                "INSERT INTO consents(subject_pk, legal_basis, evidence, obtained_at, expires_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (
                    pk,
                    consent.legal_basis,
                    consent.evidence,
                    utc_iso(consent.obtained_at),
                    None if consent.expires_at is None else utc_iso(consent.expires_at),
                ),
            )
            ids = []
            for template in templates:
                blob = np.ascontiguousarray(template.embedding, dtype="<f4").tobytes()
                cursor = con.execute(
                    "INSERT INTO templates(subject_pk, backend_id, embedding, detector_score, "
                    "created_at, image_sha256) VALUES (?, ?, ?, ?, ?, ?)",
                    (pk, backend_id, blob, template.detector_score, created,
                     template.image_sha256),
                )
                assert cursor.lastrowid is not None  # an INSERT sets it
                ids.append(cursor.lastrowid)
            con.executemany(
                "INSERT INTO images(subject_pk, data, created_at) VALUES (?, ?, ?)",
                [(pk, data, created) for data in images],
            )
            generation = self._bump(con)
            written = WriteResult(ids, generation, [subject_id], len(images))
            self._note_intent(con, intent, written)
        return written

    def erase(
        self, subject_id: str, *, intent: Intent | None = None, compact: bool = True,
        bound_s: float | None = None,
    ) -> WriteResult:
        """Delete a subject and everything about it, leaving no embedding bytes in the files.

        First makes sure no reader pins the WAL (:meth:`require_exclusive`, within ``bound_s``
        seconds; :class:`ErasureBlockedError` otherwise, before anything is deleted). Then
        deletes (with ``secure_delete``) the templates, kept images, consent records and the
        subject, replaces the subject's id in stored results by ``null`` and drops the review
        notes of those results; with ``compact`` (the default) it then runs :meth:`compact`.
        A caller that passes ``compact=False`` must call :meth:`compact` itself.
        """
        check_subject_id(subject_id)
        bound_s = self.erase_bound_s if bound_s is None else bound_s
        self.require_exclusive(bound_s)
        with self._write() as con:
            pk = self._subject_pk(con, subject_id)
            ids, n_images, hashes = self._delete_subject(con, pk, subject_id)
            generation = self._bump(con)
            self._set_compact_pending(con)
            written = WriteResult(ids, generation, [subject_id], n_images, hashes)
            self._note_intent(con, intent, written)
        if compact:
            self.compact(bound_s)
        return written

    def purge(
        self, now: datetime, *, intent: Intent | None = None, compact: bool = True,
        bound_s: float | None = None,
    ) -> WriteResult:
        """Erase every subject all of whose consent records expired at or before ``now``.

        A consent record without ``expires_at`` never expires. Erasure is as in :meth:`erase`.
        """
        bound_s = self.erase_bound_s if bound_s is None else bound_s
        self.require_exclusive(bound_s)
        with self._write() as con:
            expired = con.execute(
                "SELECT s.pk, s.subject_id FROM subjects s JOIN consents c ON c.subject_pk = s.pk "
                "GROUP BY s.pk HAVING count(c.expires_at) = count(*) AND max(c.expires_at) <= ? "
                "ORDER BY s.subject_id",
                (utc_iso(now),),
            ).fetchall()
            ids: list[int] = []
            hashes: list[str] = []
            n_images = 0
            for pk, subject_id in expired:
                subject_templates, subject_images, subject_hashes = self._delete_subject(
                    con, pk, subject_id)
                ids += subject_templates
                n_images += subject_images
                hashes += subject_hashes
            generation = self._bump(con) if expired else self._generation(con)
            if expired:
                self._set_compact_pending(con)
            written = WriteResult(ids, generation, [s for _, s in expired], n_images, hashes)
            self._note_intent(con, intent, written)
        if expired and compact:
            self.compact(bound_s)
        return written

    def _delete_subject(
        self, con: sqlite3.Connection, pk: int, subject_id: str
    ) -> tuple[list[int], int, list[str]]:
        rows = con.execute(
            "SELECT template_id, image_sha256 FROM templates WHERE subject_pk = ?", (pk,)
        ).fetchall()
        ids = [r[0] for r in rows]
        hashes = sorted({r[1] for r in rows if r[1]})
        n_images = con.execute(
            "SELECT count(*) FROM images WHERE subject_pk = ?", (pk,)).fetchone()[0]
        for table in ("templates", "images", "consents"):
            con.execute(f"DELETE FROM {table} WHERE subject_pk = ?", (pk,))
        con.execute("DELETE FROM subjects WHERE pk = ?", (pk,))
        self._scrub_results(con, subject_id)
        return ids, int(n_images), hashes

    @staticmethod
    def _scrub_results(con: sqlite3.Connection, subject_id: str) -> None:
        """Replace the subject's id in stored results by null and drop the reviewer's notes on
        those results (and any note naming the subject): free text may say who it was."""
        needle = json.dumps(subject_id)
        rows = con.execute(
            "SELECT result_id, faces FROM results WHERE instr(faces, ?) > 0", (needle,)
        ).fetchall()
        con.execute(
            "UPDATE reviews SET note = NULL WHERE note IS NOT NULL AND (instr(note, ?) > 0 "
            "OR result_id IN (SELECT result_id FROM results WHERE instr(faces, ?) > 0))",
            (subject_id, needle),
        )
        for result_id, faces_json in rows:
            faces = json.loads(faces_json)
            for face in faces:
                for candidate in face["candidates"]:
                    if candidate["subject_id"] == subject_id:
                        candidate["subject_id"] = None
                        candidate["erased"] = True
            con.execute(
                "UPDATE results SET faces = ? WHERE result_id = ?",
                (json.dumps(faces), result_id),
            )

    @staticmethod
    def _set_compact_pending(con: sqlite3.Connection) -> None:
        con.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('compact_pending', '1')")

    def compact_pending(self) -> bool:
        """True when an erasure committed but its bytes may still be in the file or the WAL."""
        with self._read() as con:
            row = con.execute("SELECT value FROM meta WHERE key = 'compact_pending'").fetchone()
        return row is not None and row[0] == "1"

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

    def require_exclusive(self, bound_s: float | None = None) -> None:
        """Raise :class:`ErasureBlockedError` unless the WAL can be checkpointed and truncated
        within ``bound_s`` seconds (no other connection holds an old snapshot)."""
        bound_s = self.erase_bound_s if bound_s is None else bound_s
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

    def compact(self, bound_s: float | None = None) -> None:
        """VACUUM the database and truncate its WAL, so deleted bytes leave both files.

        Raises :class:`ErasureIncompleteError` when a reader keeps the WAL from being truncated
        for ``bound_s`` seconds; the erasure stands and the next compaction finishes it.
        """
        bound_s = self.erase_bound_s if bound_s is None else bound_s
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

    def load_templates(self, backend_id: str) -> TemplateSet:
        """Every template of ``backend_id`` as one matrix, with a consistent generation."""
        with self._read() as con:
            generation = self._generation(con)
            rows = con.execute(
                "SELECT t.template_id, s.subject_id, t.embedding FROM templates t "
                "JOIN subjects s ON s.pk = t.subject_pk WHERE t.backend_id = ? "
                "ORDER BY t.template_id",
                (backend_id,),
            ).fetchall()
        if not rows:
            return TemplateSet(np.empty(0, np.int64), [], np.empty((0, 0), np.float32), generation)
        template_ids, subject_ids, blobs = zip(*rows, strict=True)
        dim = len(blobs[0]) // 4
        embeddings = np.frombuffer(b"".join(blobs), dtype="<f4").reshape(len(rows), dim)
        return TemplateSet(
            np.asarray(template_ids, dtype=np.int64),
            list(subject_ids),
            embeddings.astype(np.float32),
            generation,
        )

    def template_owners(self, backend_id: str) -> TemplateSet:
        """The ids and subjects of every template of ``backend_id``, without the embeddings
        (an empty ``(0, 0)`` matrix): what a persisted search index is checked against."""
        with self._read() as con:
            generation = self._generation(con)
            rows = con.execute(
                "SELECT t.template_id, s.subject_id FROM templates t "
                "JOIN subjects s ON s.pk = t.subject_pk WHERE t.backend_id = ? "
                "ORDER BY t.template_id",
                (backend_id,),
            ).fetchall()
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        return TemplateSet(ids, [r[1] for r in rows], np.empty((0, 0), np.float32), generation)

    def subject_templates(self, subject_id: str) -> np.ndarray:
        """The (n, dim) templates of one subject."""
        check_subject_id(subject_id)
        with self._read() as con:
            pk = self._subject_pk(con, subject_id)
            blobs = [r[0] for r in con.execute(
                "SELECT embedding FROM templates WHERE subject_pk = ? ORDER BY template_id",
                (pk,))]
        if not blobs:
            return np.empty((0, 0), np.float32)
        return np.frombuffer(b"".join(blobs), dtype="<f4").reshape(len(blobs), -1).copy()

    def subject_count(self, backend_id: str) -> int:
        """How many subjects have templates of ``backend_id``: the size of its 1:N gallery."""
        with self._read() as con:
            (count,) = con.execute(
                "SELECT count(DISTINCT subject_pk) FROM templates WHERE backend_id = ?",
                (backend_id,),
            ).fetchone()
        return int(count)

    def list_subjects(self) -> list[dict]:
        """Subjects with their consent and template counts — never embeddings."""
        with self._read() as con:
            rows = con.execute(
                "SELECT s.subject_id, s.display_name, s.created_at, "
                "(SELECT count(*) FROM templates t WHERE t.subject_pk = s.pk), "
                "(SELECT count(*) FROM images i WHERE i.subject_pk = s.pk), "
                "(SELECT json_group_array(json_object('legal_basis', legal_basis, "
                "'evidence', evidence, 'obtained_at', obtained_at, 'expires_at', expires_at)) "
                "FROM consents c WHERE c.subject_pk = s.pk) "
                "FROM subjects s ORDER BY s.subject_id"
            ).fetchall()
        return [
            {
                "subject_id": subject_id,
                "display_name": name,
                "created_at": created,
                "templates": n_templates,
                "images": n_images,
                "consents": json.loads(consents),
            }
            for subject_id, name, created, n_templates, n_images, consents in rows
        ]

    # -- identification results and reviews --------------------------------------------------

    def save_result(self, result: dict, *, intent: Intent | None = None) -> None:
        """Store an identification result (no probe biometrics) for later human review."""
        with self._write() as con:
            con.execute(
                "INSERT INTO results(result_id, created_at, actor, purpose, case_id, backend_id, "
                "threshold, fmr_target, faces) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    result["result_id"],
                    result["created_at"],
                    result["actor"],
                    result["purpose"],
                    result["case"],
                    result["backend_id"],
                    result["threshold"],
                    result["fmr_target"],
                    json.dumps(result["faces"]),
                ),
            )
            self._note_intent(con, intent, result)

    def get_result(self, result_id: str) -> dict:
        """Return a stored identification result with its review (None while pending)."""
        with self._read() as con:
            return self._result(con, result_id)

    @staticmethod
    def _result(con: sqlite3.Connection, result_id: str) -> dict:
        row = con.execute(
            "SELECT result_id, created_at, actor, purpose, case_id, backend_id, threshold, "
            "fmr_target, faces FROM results WHERE result_id = ?",
            (result_id,),
        ).fetchone()
        if row is None:
            raise UnknownResultError(f"no identification result {result_id!r}")
        review = con.execute(
            "SELECT decision, reviewer, actor, note, created_at FROM reviews WHERE result_id = ?",
            (result_id,),
        ).fetchone()
        keys = ("result_id", "created_at", "actor", "purpose", "case", "backend_id",
                "threshold", "fmr_target")
        out = dict(zip(keys, row[:8], strict=True))
        out["faces"] = json.loads(row[8])
        out["review"] = None if review is None else dict(
            zip(("decision", "reviewer", "actor", "note", "created_at"), review, strict=True)
        )
        return out

    def add_review(
        self, result_id: str, *, decision: str, reviewer: str, actor: str, note: str | None,
        now: datetime, intent: Intent | None = None,
    ) -> dict:
        """Record the one human decision on an identification result.

        Raises UnknownResultError for an unknown id and AlreadyReviewedError for a second one.
        """
        with self._write() as con:
            existing = self._result(con, result_id)
            if existing["review"] is not None:
                raise AlreadyReviewedError(
                    f"result {result_id!r} was already reviewed "
                    f"({existing['review']['decision']})"
                )
            con.execute(
                "INSERT INTO reviews(result_id, decision, reviewer, actor, note, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (result_id, decision, reviewer, actor, note, utc_iso(now)),
            )
            reviewed = self._result(con, result_id)
            self._note_intent(con, intent, reviewed)
            return reviewed


def open_gallery_store(home: Home) -> GalleryStore:
    """The gallery of ``home``: PostgreSQL (:class:`~faceaudit.gallery.postgres.PgGalleryStore`)
    when a database URL is in force, else the home's SQLite file."""
    url = home.database_url_in_force()
    if url:
        from faceaudit.gallery.postgres import PgGalleryStore

        return PgGalleryStore(url)
    return SqliteGalleryStore(home.db_path)
