"""The gallery in PostgreSQL with pgvector: :class:`PgGalleryStore` implements the same
:class:`~faceaudit.gallery.store.GalleryStore` as the SQLite store, for deployments whose
service replicas share one database (``FACEAUDIT_DATABASE_URL``; docs/deploy.md).

Templates live in a ``vector(D)`` column (D from the enrolled backend). Search runs in the
database: exact (a sequential scan) below
:data:`~faceaudit.gallery.template_search.INDEX_MIN_TEMPLATES`
templates, through a pgvector HNSW index (``vector_cosine_ops``) from that size on.

Erasure deletes the rows in one transaction, then ``VACUUM (FULL)`` rewrites every table that
held them (with its indexes — the HNSW graph included — and TOAST) into new files and drops
the old ones, ``CHECKPOINT`` writes the new pages out, and a WAL switch and a second checkpoint
retire the WAL segment that holds the old pages (deleted, not recycled, when the server runs
with ``wal_recycle = off``). What the WAL, replicas, archives and backups keep, and for how
long, is in docs/deploy.md.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import numpy as np

from faceaudit.base.database import (
    DatabaseError,
    advisory_key,
    connect,
    database_errors,
    ensure_schema,
)
from faceaudit.gallery.errors import (
    AlreadyReviewedError,
    ErasureIncompleteError,
    UnknownResultError,
    UnknownSubjectError,
)
from faceaudit.gallery.store import (
    Consent,
    Intent,
    NewTemplate,
    TemplateSet,
    WriteResult,
    check_subject_id,
    refuse_other_backend,
    utc_iso,
)
from faceaudit.gallery.template_search import INDEX_MIN_TEMPLATES, Hit

SCHEMA = """
CREATE TABLE IF NOT EXISTS gallery_meta (key text PRIMARY KEY, value text NOT NULL);
INSERT INTO gallery_meta VALUES ('schema_version', '1'), ('generation', '0')
    ON CONFLICT (key) DO NOTHING;
CREATE TABLE IF NOT EXISTS subjects (
    pk bigserial PRIMARY KEY, subject_id text NOT NULL UNIQUE, display_name text,
    created_at text NOT NULL);
CREATE TABLE IF NOT EXISTS consents (
    consent_id bigserial PRIMARY KEY,
    subject_pk bigint NOT NULL REFERENCES subjects(pk) ON DELETE CASCADE,
    legal_basis text NOT NULL, evidence text NOT NULL, obtained_at text NOT NULL,
    expires_at text);
CREATE INDEX IF NOT EXISTS consents_subject ON consents(subject_pk);
CREATE TABLE IF NOT EXISTS templates (
    template_id bigserial PRIMARY KEY,
    subject_pk bigint NOT NULL REFERENCES subjects(pk) ON DELETE CASCADE,
    backend_id text NOT NULL, embedding vector NOT NULL, detector_score double precision,
    created_at text NOT NULL, image_sha256 text);
CREATE INDEX IF NOT EXISTS templates_subject ON templates(subject_pk);
CREATE TABLE IF NOT EXISTS images (
    image_id bigserial PRIMARY KEY,
    subject_pk bigint NOT NULL REFERENCES subjects(pk) ON DELETE CASCADE,
    data bytea NOT NULL, created_at text NOT NULL);
CREATE INDEX IF NOT EXISTS images_subject ON images(subject_pk);
CREATE TABLE IF NOT EXISTS results (
    result_id text PRIMARY KEY, created_at text NOT NULL, actor text NOT NULL, purpose text,
    case_id text, backend_id text NOT NULL, threshold double precision NOT NULL,
    fmr_target double precision NOT NULL, faces text NOT NULL);
CREATE TABLE IF NOT EXISTS reviews (
    result_id text PRIMARY KEY REFERENCES results(result_id),
    decision text NOT NULL CHECK (decision IN ('confirm', 'reject')),
    reviewer text NOT NULL, actor text NOT NULL, note text, created_at text NOT NULL);
CREATE TABLE IF NOT EXISTS pending_events (
    intent_id text PRIMARY KEY, created_at text NOT NULL, events text NOT NULL);
"""
#: every table an erasure rewrites (their indexes and TOAST tables with them)
ERASED_TABLES = ("templates", "images", "consents", "subjects", "results", "reviews",
                 "pending_events", "gallery_meta")
WRITE_LOCK = advisory_key("faceaudit-gallery-write")
HNSW_INDEX = "templates_embedding_hnsw"
EF_SEARCH = 256


def vector_text(vector: np.ndarray) -> str:
    """pgvector's text form of a float32 vector (exact: 9 significant digits round-trip)."""
    return "[" + ",".join(f"{x:.9g}" for x in np.asarray(vector, dtype=np.float32)) + "]"


class PgGalleryStore:
    """:class:`~faceaudit.gallery.store.GalleryStore` in the PostgreSQL database at ``url``.

    Writers are serialised by a transaction-level advisory lock; readers see one snapshot
    (``REPEATABLE READ``) and never block writers.
    """

    def __init__(self, url: str, *, index_min: int = INDEX_MIN_TEMPLATES) -> None:
        self.url = url
        #: from this many templates on, search goes through the HNSW index
        self.index_min = index_min
        self._local = threading.local()

    def describe(self) -> str:
        """Where the gallery lives, for messages."""
        return "the deployment database"

    def exists(self) -> bool:
        """Always True: the database exists (its tables are created on first use)."""
        return True

    # -- connections -------------------------------------------------------------------------

    @contextmanager
    def _connection(self) -> Iterator[Any]:
        ensure_schema(self.url, "gallery", "CREATE EXTENSION IF NOT EXISTS vector;" + SCHEMA)
        con = connect(self.url)
        try:
            yield con
        finally:
            con.close()

    def _kept(self) -> Any:
        """This thread's connection, kept between operations (reopened after a fork or when
        broken)."""
        ensure_schema(self.url, "gallery", "CREATE EXTENSION IF NOT EXISTS vector;" + SCHEMA)
        con, pid = getattr(self._local, "con", (None, None))
        if con is None or pid != os.getpid() or con.closed or con.broken:
            con = connect(self.url)
            self._local.con = (con, os.getpid())
        return con

    @contextmanager
    def _write(self) -> Iterator[Any]:
        """One serialised write transaction."""
        con = self._kept()
        with database_errors(), con.transaction():
            con.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
            yield con

    @contextmanager
    def _read(self) -> Iterator[Any]:
        """One read transaction on a consistent snapshot."""
        con = self._kept()
        with database_errors(), con.transaction():
            con.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            yield con

    @staticmethod
    def _generation(con: Any) -> int:
        return int(con.execute(
            "SELECT value FROM gallery_meta WHERE key = 'generation'").fetchone()[0])

    def _bump(self, con: Any) -> int:
        con.execute("UPDATE gallery_meta SET value = (value::bigint + 1)::text "
                    "WHERE key = 'generation'")
        return self._generation(con)

    @staticmethod
    def _note_intent(con: Any, intent: Intent | None, outcome: Any) -> None:
        """Keep the ledger events of this write beside it, in the same transaction."""
        if intent is None:
            return
        con.execute(
            "INSERT INTO pending_events(intent_id, created_at, events) VALUES (%s, %s, %s)",
            (intent.intent_id, utc_iso(datetime.now(UTC)), json.dumps(intent.events(outcome))))

    def pending_intent(self, intent_id: str) -> list[dict[str, Any]] | None:
        """The ledger events a committed write still owes the ledger, or None."""
        with self._read() as con:
            row = con.execute("SELECT events FROM pending_events WHERE intent_id = %s",
                              (intent_id,)).fetchone()
        return None if row is None else json.loads(row[0])

    def pending_intent_ids(self) -> list[str]:
        """Ids of every write whose ledger events are still pending."""
        with self._read() as con:
            return [r[0] for r in con.execute(
                "SELECT intent_id FROM pending_events ORDER BY created_at")]

    def clear_intent(self, intent_id: str) -> None:
        """Forget the pending events of ``intent_id`` (they are in the ledger now)."""
        with self._write() as con:
            con.execute("DELETE FROM pending_events WHERE intent_id = %s", (intent_id,))

    @staticmethod
    def _subject_pk(con: Any, subject_id: str) -> int:
        row = con.execute("SELECT pk FROM subjects WHERE subject_id = %s",
                          (subject_id,)).fetchone()
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

    def _fit_dimension(self, con: Any, dim: int) -> None:
        """Make ``templates.embedding`` a ``vector(dim)`` (the table is empty when it changes:
        one gallery holds one backend's templates)."""
        typmod = con.execute(
            "SELECT atttypmod FROM pg_attribute WHERE attrelid = 'templates'::regclass "
            "AND attname = 'embedding'").fetchone()[0]
        if typmod != dim:
            con.execute(f"DROP INDEX IF EXISTS {HNSW_INDEX}")
            con.execute(f"ALTER TABLE templates ALTER COLUMN embedding TYPE vector({int(dim)})")

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
            if templates and row is None:
                self._fit_dimension(con, int(np.asarray(templates[0].embedding).size))
            pk = con.execute(
                "INSERT INTO subjects(subject_id, display_name, created_at) VALUES (%s, %s, %s) "
                "ON CONFLICT (subject_id) DO UPDATE SET "
                "display_name = coalesce(excluded.display_name, subjects.display_name) "
                "RETURNING pk", (subject_id, display_name, created)).fetchone()[0]
            con.execute(
                "INSERT INTO consents(subject_pk, legal_basis, evidence, obtained_at, expires_at) "
                "VALUES (%s, %s, %s, %s, %s)",
                (pk, consent.legal_basis, consent.evidence, utc_iso(consent.obtained_at),
                 None if consent.expires_at is None else utc_iso(consent.expires_at)))
            ids = [int(con.execute(
                "INSERT INTO templates(subject_pk, backend_id, embedding, detector_score, "
                "created_at, image_sha256) VALUES (%s, %s, %s::vector, %s, %s, %s) "
                "RETURNING template_id",
                (pk, backend_id, vector_text(t.embedding), t.detector_score, created,
                 t.image_sha256)).fetchone()[0]) for t in templates]
            for data in images:
                con.execute("INSERT INTO images(subject_pk, data, created_at) "
                            "VALUES (%s, %s, %s)", (pk, data, created))
            generation = self._bump(con)
            written = WriteResult(ids, generation, [subject_id], len(images))
            self._note_intent(con, intent, written)
        self.ensure_index()
        return written

    def ensure_index(self) -> bool:
        """Build the HNSW index once the gallery holds ``index_min`` templates; True when it
        exists afterwards."""
        with self._write() as con:
            if con.execute("SELECT to_regclass(%s) IS NOT NULL", (HNSW_INDEX,)).fetchone()[0]:
                return True
            if con.execute("SELECT count(*) FROM templates").fetchone()[0] < self.index_min:
                return False
            con.execute(f"CREATE INDEX IF NOT EXISTS {HNSW_INDEX} ON templates "
                        "USING hnsw (embedding vector_cosine_ops) "
                        "WITH (m = 16, ef_construction = 64)")
        return True

    def erase(self, subject_id: str, *, intent: Intent | None = None, compact: bool = True,
              bound_s: float | None = None) -> WriteResult:
        """Delete a subject and everything about it in one transaction; with ``compact`` (the
        default) then :meth:`compact`, so that no embedding bytes stay in the table, index or
        TOAST files. A caller that passes ``compact=False`` must call :meth:`compact` itself."""
        check_subject_id(subject_id)
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

    def purge(self, now: datetime, *, intent: Intent | None = None, compact: bool = True,
              bound_s: float | None = None) -> WriteResult:
        """Erase every subject all of whose consent records expired at or before ``now``."""
        with self._write() as con:
            expired = con.execute(
                "SELECT s.pk, s.subject_id FROM subjects s JOIN consents c ON c.subject_pk = s.pk "
                "GROUP BY s.pk HAVING count(c.expires_at) = count(*) AND max(c.expires_at) <= %s "
                "ORDER BY s.subject_id", (utc_iso(now),)).fetchall()
            ids: list[int] = []
            hashes: list[str] = []
            n_images = 0
            for pk, subject_id in expired:
                got_ids, got_images, got_hashes = self._delete_subject(con, pk, subject_id)
                ids += got_ids
                n_images += got_images
                hashes += got_hashes
            generation = self._bump(con) if expired else self._generation(con)
            if expired:
                self._set_compact_pending(con)
            written = WriteResult(ids, generation, [s for _, s in expired], n_images, hashes)
            self._note_intent(con, intent, written)
        if expired and compact:
            self.compact(bound_s)
        return written

    def _delete_subject(self, con: Any, pk: int, subject_id: str
                        ) -> tuple[list[int], int, list[str]]:
        rows = con.execute("SELECT template_id, image_sha256 FROM templates "
                           "WHERE subject_pk = %s ORDER BY template_id", (pk,)).fetchall()
        ids = [int(r[0]) for r in rows]
        hashes = sorted({r[1] for r in rows if r[1]})
        n_images = con.execute("SELECT count(*) FROM images WHERE subject_pk = %s",
                               (pk,)).fetchone()[0]
        for table in ("templates", "images", "consents"):
            con.execute(f"DELETE FROM {table} WHERE subject_pk = %s", (pk,))
        con.execute("DELETE FROM subjects WHERE pk = %s", (pk,))
        self._scrub_results(con, subject_id)
        return ids, int(n_images), hashes

    @staticmethod
    def _scrub_results(con: Any, subject_id: str) -> None:
        """Replace the subject's id in stored results by null and drop the reviewer's notes on
        those results (and any note naming the subject)."""
        needle = json.dumps(subject_id)
        rows = con.execute("SELECT result_id, faces FROM results WHERE strpos(faces, %s) > 0",
                           (needle,)).fetchall()
        con.execute(
            "UPDATE reviews SET note = NULL WHERE note IS NOT NULL AND (strpos(note, %s) > 0 "
            "OR result_id IN (SELECT result_id FROM results WHERE strpos(faces, %s) > 0))",
            (subject_id, needle))
        for result_id, faces_json in rows:
            faces = json.loads(faces_json)
            for face in faces:
                for candidate in face["candidates"]:
                    if candidate["subject_id"] == subject_id:
                        candidate["subject_id"] = None
                        candidate["erased"] = True
            con.execute("UPDATE results SET faces = %s WHERE result_id = %s",
                        (json.dumps(faces), result_id))

    @staticmethod
    def _set_compact_pending(con: Any) -> None:
        con.execute("INSERT INTO gallery_meta VALUES ('compact_pending', '1') "
                    "ON CONFLICT (key) DO UPDATE SET value = '1'")

    def compact_pending(self) -> bool:
        """True when an erasure committed but its bytes may still be in the table files."""
        with self._read() as con:
            row = con.execute(
                "SELECT value FROM gallery_meta WHERE key = 'compact_pending'").fetchone()
        return row is not None and row[0] == "1"

    def compact(self, bound_s: float | None = None) -> None:
        """``VACUUM (FULL)`` every table an erasure touches (new files for table, indexes and
        TOAST; the old files are removed), then ``CHECKPOINT``.

        Raises :class:`ErasureIncompleteError` when another session's lock keeps VACUUM from
        running within ``bound_s`` seconds (default 10); the next compaction finishes it.
        """
        bound_ms = int(1000 * (10.0 if bound_s is None else bound_s))
        with self._connection() as con:
            con.autocommit = True
            try:
                con.execute(f"SET lock_timeout = {bound_ms}")
                con.execute("VACUUM (FULL) " + ", ".join(ERASED_TABLES))
                con.execute("DELETE FROM gallery_meta WHERE key = 'compact_pending'")
                con.execute("VACUUM (FULL) gallery_meta")
                con.execute("CHECKPOINT")
                # close the WAL segment that holds the deleted rows' page images and checkpoint
                # past it: with wal_recycle = off the server deletes it (docs/deploy.md)
                con.execute("SELECT pg_switch_wal()")
                con.execute("CHECKPOINT")
            except Exception as exc:  # psycopg's errors: lock timeout, no privilege
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
                raise ErasureIncompleteError(
                    f"the erased rows are deleted but the database could not be compacted "
                    f"({reason}); their bytes remain in its files until the next compaction"
                ) from None

    def load_templates(self, backend_id: str) -> TemplateSet:
        """Every template of ``backend_id`` as one matrix, with a consistent generation."""
        with self._read() as con:
            generation = self._generation(con)
            rows = con.execute(
                "SELECT t.template_id, s.subject_id, t.embedding::real[] FROM templates t "
                "JOIN subjects s ON s.pk = t.subject_pk WHERE t.backend_id = %s "
                "ORDER BY t.template_id", (backend_id,)).fetchall()
        if not rows:
            return TemplateSet(np.empty(0, np.int64), [], np.empty((0, 0), np.float32), generation)
        ids, subjects, vectors = zip(*rows, strict=True)
        return TemplateSet(np.asarray(ids, dtype=np.int64), list(subjects),
                           np.asarray(vectors, dtype=np.float32), generation)

    def template_owners(self, backend_id: str) -> TemplateSet:
        """The ids and subjects of every template of ``backend_id``, without the embeddings
        (an empty ``(0, 0)`` matrix), with a consistent generation."""
        with self._read() as con:
            generation = self._generation(con)
            rows = con.execute(
                "SELECT t.template_id, s.subject_id FROM templates t "
                "JOIN subjects s ON s.pk = t.subject_pk WHERE t.backend_id = %s "
                "ORDER BY t.template_id", (backend_id,)).fetchall()
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        return TemplateSet(ids, [r[1] for r in rows], np.empty((0, 0), np.float32), generation)

    def subject_count(self, backend_id: str) -> int:
        """How many subjects have templates of ``backend_id``: the size of its 1:N gallery."""
        with self._read() as con:
            (count,) = con.execute(
                "SELECT count(DISTINCT subject_pk) FROM templates WHERE backend_id = %s",
                (backend_id,)).fetchone()
        return int(count)

    def subject_templates(self, subject_id: str) -> np.ndarray:
        """The (n, dim) templates of one subject."""
        check_subject_id(subject_id)
        with self._read() as con:
            pk = self._subject_pk(con, subject_id)
            rows = con.execute("SELECT embedding::real[] FROM templates WHERE subject_pk = %s "
                               "ORDER BY template_id", (pk,)).fetchall()
        if not rows:
            return np.empty((0, 0), np.float32)
        return np.asarray([r[0] for r in rows], dtype=np.float32)

    def list_subjects(self) -> list[dict]:
        """Subjects with their consent and template counts — never embeddings."""
        with self._read() as con:
            rows = con.execute(
                "SELECT s.subject_id, s.display_name, s.created_at, "
                "(SELECT count(*) FROM templates t WHERE t.subject_pk = s.pk), "
                "(SELECT count(*) FROM images i WHERE i.subject_pk = s.pk), "
                "(SELECT coalesce(json_agg(json_build_object('legal_basis', legal_basis, "
                "'evidence', evidence, 'obtained_at', obtained_at, 'expires_at', expires_at) "
                "ORDER BY consent_id), '[]')::text FROM consents c WHERE c.subject_pk = s.pk) "
                "FROM subjects s ORDER BY s.subject_id COLLATE \"C\"").fetchall()
        return [{"subject_id": subject_id, "display_name": name, "created_at": created,
                 "templates": int(n_templates), "images": int(n_images),
                 "consents": json.loads(consents)}
                for subject_id, name, created, n_templates, n_images, consents in rows]

    # -- search ------------------------------------------------------------------------------

    def template_search(self, backend_id: str) -> PgTemplateSearch:
        """A search over the stored templates that runs in the database."""
        with self._read() as con:
            return PgTemplateSearch(self, self._generation(con))

    def search_stats(self) -> tuple[int, int]:
        """(templates stored, most templates any one subject has)."""
        with self._read() as con:
            n = con.execute("SELECT count(*) FROM templates").fetchone()[0]
            per = con.execute("SELECT max(c) FROM (SELECT count(*) AS c FROM templates "
                              "GROUP BY subject_pk) per").fetchone()[0]
        return int(n), int(per or 0)

    # -- identification results and reviews --------------------------------------------------

    def save_result(self, result: dict, *, intent: Intent | None = None) -> None:
        """Store an identification result (no probe biometrics) for later human review."""
        with self._write() as con:
            con.execute(
                "INSERT INTO results(result_id, created_at, actor, purpose, case_id, backend_id, "
                "threshold, fmr_target, faces) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (result["result_id"], result["created_at"], result["actor"], result["purpose"],
                 result["case"], result["backend_id"], result["threshold"],
                 result["fmr_target"], json.dumps(result["faces"])))
            self._note_intent(con, intent, result)

    def get_result(self, result_id: str) -> dict:
        """Return a stored identification result with its review (None while pending)."""
        with self._read() as con:
            return self._result(con, result_id)

    @staticmethod
    def _result(con: Any, result_id: str) -> dict:
        row = con.execute(
            "SELECT result_id, created_at, actor, purpose, case_id, backend_id, threshold, "
            "fmr_target, faces FROM results WHERE result_id = %s", (result_id,)).fetchone()
        if row is None:
            raise UnknownResultError(f"no identification result {result_id!r}")
        review = con.execute(
            "SELECT decision, reviewer, actor, note, created_at FROM reviews "
            "WHERE result_id = %s", (result_id,)).fetchone()
        keys = ("result_id", "created_at", "actor", "purpose", "case", "backend_id",
                "threshold", "fmr_target")
        out = dict(zip(keys, row[:8], strict=True))
        out["faces"] = json.loads(row[8])
        out["review"] = None if review is None else dict(
            zip(("decision", "reviewer", "actor", "note", "created_at"), review, strict=True))
        return out

    def add_review(
        self, result_id: str, *, decision: str, reviewer: str, actor: str, note: str | None,
        now: datetime, intent: Intent | None = None,
    ) -> dict:
        """Record the one human decision on an identification result."""
        with self._write() as con:
            existing = self._result(con, result_id)
            if existing["review"] is not None:
                raise AlreadyReviewedError(
                    f"result {result_id!r} was already reviewed "
                    f"({existing['review']['decision']})")
            con.execute(
                "INSERT INTO reviews(result_id, decision, reviewer, actor, note, created_at) "
                "VALUES (%s, %s, %s, %s, %s, %s)",
                (result_id, decision, reviewer, actor, note, utc_iso(now)))
            reviewed = self._result(con, result_id)
            self._note_intent(con, intent, reviewed)
            return reviewed


class PgTemplateSearch:
    """1:N search in the database, with the interface of
    :class:`~faceaudit.gallery.template_search.TemplateSearch`: exact below the store's
    ``index_min``
    templates, HNSW (``hnsw.ef_search`` = :data:`EF_SEARCH`) from that size on."""

    def __init__(self, store: PgGalleryStore, generation: int) -> None:
        self.store = store
        self.generation = generation
        self._stats: tuple[int, int] | None = None  # read on first use after each change

    @property
    def indexed(self) -> bool:
        """Whether queries go through the HNSW index rather than a sequential scan."""
        return self._current_stats()[0] >= self.store.index_min

    @property
    def most_per_subject(self) -> int:
        """The most templates any one subject has."""
        return self._current_stats()[1]

    def _current_stats(self) -> tuple[int, int]:
        if self._stats is None:
            self._stats = self.store.search_stats()
        return self._stats

    def add(self, template_ids: list[int], subject_id: str, embeddings: np.ndarray,
            generation: int) -> None:
        """The templates are in the database already: only the gallery's size changed."""
        self.generation, self._stats = generation, None

    def remove(self, template_ids: list[int], generation: int) -> None:
        """The templates left the database already: only the gallery's size changed."""
        self.generation, self._stats = generation, None

    def search(self, query: np.ndarray, k: int, threshold: float | None = None) -> list[Hit]:
        """The ``k`` best templates for ``query`` (scoring ≥ ``threshold`` if given)."""
        if k <= 0:
            return []
        q = vector_text(query)
        with self.store._read() as con:
            if self.indexed:
                con.execute(f"SET LOCAL hnsw.ef_search = {max(EF_SEARCH, min(k, 1000))}")
            else:  # exact: a sequential scan even if an index is left from a larger gallery
                con.execute("SET LOCAL enable_indexscan = off")
            rows = con.execute(
                "SELECT c.template_id, s.subject_id, c.score FROM ("
                "SELECT template_id, subject_pk, 1 - (embedding <=> %s::vector) AS score "
                "FROM templates ORDER BY embedding <=> %s::vector LIMIT %s) c "
                "JOIN subjects s ON s.pk = c.subject_pk ORDER BY c.score DESC, c.template_id",
                (q, q, k)).fetchall()
        return [Hit(int(t), str(s), float(score)) for t, s, score in rows
                if threshold is None or score >= threshold]

    def search_subjects(self, query: np.ndarray, top: int,
                        threshold: float | None = None) -> list[Hit]:
        """The ``top`` best subjects for ``query``, each with its best-scoring template."""
        if self.most_per_subject == 0:
            return []
        best: dict[str, Hit] = {}
        for hit in self.search(query, top * self.most_per_subject, threshold):
            best.setdefault(hit.subject_id, hit)
        return sorted(best.values(), key=lambda h: -h.score)[:top]


__all__ = ["DatabaseError", "PgGalleryStore", "PgTemplateSearch", "vector_text"]
