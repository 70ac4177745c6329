"""The gallery's storage in PostgreSQL with pgvector: connections, transactions and the
PostgreSQL side of the SQL, for deployments whose service replicas share one database
(``FACEAUDIT_DATABASE_URL``; docs/deploy.md). The rules are
:class:`~faceaudit.gallery.store.GalleryStore`'s.

Templates live in a ``vector(D)`` column (D from the enrolled backend). Writers are serialised
by a transaction-level advisory lock; readers see one snapshot (``REPEATABLE READ``) and never
block writers. From :data:`~faceaudit.gallery.template_search.INDEX_MIN_TEMPLATES` templates on,
a pgvector HNSW index (``vector_cosine_ops``) is built for the in-database search
(:mod:`faceaudit.gallery.postgres_search`).

Erasure deletes the rows in one transaction, then ``VACUUM (FULL)`` rewrites every table that
held them (with its indexes — the HNSW graph included — and TOAST) into new files and drops
the old ones, ``CHECKPOINT`` writes the new pages out, and a WAL switch and a second checkpoint
retire the WAL segment that holds the old pages (deleted, not recycled, when the server runs
with ``wal_recycle = off``). What the WAL, replicas, archives and backups keep, and for how
long, is in docs/deploy.md.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from faceaudit.base.database import advisory_key, connect, database_errors, ensure_schema
from faceaudit.gallery.errors import ErasureIncompleteError
from faceaudit.gallery.records import NewTemplate
from faceaudit.gallery.template_search import INDEX_MIN_TEMPLATES

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
CREATE TABLE IF NOT EXISTS review_tasks (
    task_id text PRIMARY KEY, result_id text NOT NULL REFERENCES results(result_id),
    face_index integer NOT NULL, candidate_index integer NOT NULL, created_at text NOT NULL,
    UNIQUE (result_id, face_index, candidate_index));
CREATE TABLE IF NOT EXISTS review_decisions (
    task_id text NOT NULL REFERENCES review_tasks(task_id), reviewer text NOT NULL,
    decision text NOT NULL CHECK (decision IN ('confirm', 'reject')),
    actor text NOT NULL, note text, created_at text NOT NULL, PRIMARY KEY (task_id, reviewer));
CREATE TABLE IF NOT EXISTS lead_records (
    record_id bigserial PRIMARY KEY, task_id text NOT NULL REFERENCES review_tasks(task_id),
    step text NOT NULL CHECK (step IN ('action', 'outcome')), kind text NOT NULL,
    evidence text, recorded_by text NOT NULL, actor text NOT NULL, created_at text NOT NULL);
CREATE TABLE IF NOT EXISTS probe_crops (
    result_id text NOT NULL REFERENCES results(result_id), face_index integer NOT NULL,
    data bytea NOT NULL, expires_at text NOT NULL, PRIMARY KEY (result_id, face_index));
CREATE TABLE IF NOT EXISTS holds (
    result_id text PRIMARY KEY REFERENCES results(result_id), case_id text,
    deadline text NOT NULL);
CREATE TABLE IF NOT EXISTS pending_events (
    intent_id text PRIMARY KEY, created_at text NOT NULL, events text NOT NULL);
"""
#: every table an erasure rewrites (their indexes and TOAST tables with them)
ERASED_TABLES = ("templates", "images", "consents", "subjects", "results", "reviews",
                 "review_tasks", "review_decisions", "lead_records", "probe_crops", "holds",
                 "pending_events", "gallery_meta")
WRITE_LOCK = advisory_key("faceaudit-gallery-write")
HNSW_INDEX = "templates_embedding_hnsw"


def vector_text(vector: np.ndarray) -> str:
    """pgvector's text form of a float32 vector (exact: 9 significant digits round-trip)."""
    return "[" + ",".join(f"{x:.9g}" for x in np.asarray(vector, dtype=np.float32)) + "]"


class PgTransaction:
    """One transaction on a psycopg ``connection``, taking the store's SQL: its ``?``
    placeholders are psycopg's ``%s``."""

    def __init__(self, connection: Any) -> None:
        #: the psycopg connection, for PostgreSQL's own SQL (``%s`` placeholders, ``COPY``)
        self.connection = connection

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Any:
        """Run one statement; return its cursor."""
        return self.connection.execute(sql.replace("?", "%s"), parameters or None)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]], /) -> None:
        """Run one statement once per row of parameters."""
        with self.connection.cursor() as cursor:
            cursor.executemany(sql.replace("?", "%s"), list(rows))


class PgStorage:
    """:class:`~faceaudit.gallery.store.GalleryStorage` in the PostgreSQL database at ``url``
    (its tables created on first use); from ``index_min`` templates on, search goes through
    the HNSW index."""

    #: the table of counters and flags (``generation``, ``compact_pending``)
    meta_table = "gallery_meta"
    #: how a query selects a template's embedding (as an array of float4)
    embedding_sql = "embedding::real[]"

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

    def _schema(self) -> None:
        ensure_schema(self.url, "gallery", "CREATE EXTENSION IF NOT EXISTS vector;" + SCHEMA)

    @contextmanager
    def _connection(self) -> Iterator[Any]:
        """A connection of its own, closed afterwards."""
        self._schema()
        con = connect(self.url)
        try:
            yield con
        finally:
            con.close()

    def _kept(self) -> Any:
        """This thread's connection, kept between operations (reopened after a fork or when
        broken)."""
        self._schema()
        con, pid = getattr(self._local, "con", (None, None))
        if con is None or pid != os.getpid() or con.closed or con.broken:
            con = connect(self.url)
            self._local.con = (con, os.getpid())
        return con

    @contextmanager
    def write(self) -> Iterator[PgTransaction]:
        """One serialised write transaction."""
        con = self._kept()
        with database_errors(), con.transaction():
            con.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
            yield PgTransaction(con)

    @contextmanager
    def read(self) -> Iterator[PgTransaction]:
        """One read transaction on a consistent snapshot."""
        con = self._kept()
        with database_errors(), con.transaction():
            con.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            yield PgTransaction(con)

    # -- the PostgreSQL side of the SQL ------------------------------------------------------

    @staticmethod
    def contains(column: str) -> str:
        """The condition "``column`` contains the text of the next parameter"."""
        return f"strpos({column}, ?) > 0"

    @staticmethod
    def fit_dimension(tx: PgTransaction, dim: int) -> None:
        """Make ``templates.embedding`` a ``vector(dim)`` (the table is empty when it changes:
        one gallery holds one backend's templates)."""
        con = tx.connection
        typmod = con.execute(
            "SELECT atttypmod FROM pg_attribute WHERE attrelid = 'templates'::regclass "
            "AND attname = 'embedding'").fetchone()[0]
        if typmod != dim:
            con.execute(f"DROP INDEX IF EXISTS {HNSW_INDEX}")
            con.execute(f"ALTER TABLE templates ALTER COLUMN embedding TYPE vector({int(dim)})")

    @staticmethod
    def add_templates(tx: PgTransaction, subject_pk: int, backend_id: str,
                      templates: Sequence[NewTemplate], created: str) -> list[int]:
        """Insert ``templates`` of one subject; return their new ids, in order."""
        return [int(tx.connection.execute(
            "INSERT INTO templates(subject_pk, backend_id, embedding, detector_score, "
            "created_at, image_sha256) VALUES (%s, %s, %s::vector, %s, %s, %s) "
            "RETURNING template_id",
            (subject_pk, backend_id, vector_text(t.embedding), t.detector_score, created,
             t.image_sha256)).fetchone()[0]) for t in templates]

    def templates_added(self) -> None:
        """Build the HNSW index if the gallery has grown to ``index_min`` templates."""
        self.ensure_index()

    @staticmethod
    def embedding_matrix(values: Sequence[Sequence[float]]) -> np.ndarray:
        """The ``(n, dim)`` float32 matrix of ``n`` selected embeddings (``n`` > 0)."""
        return np.asarray(values, dtype=np.float32)

    @staticmethod
    def subject_rows(tx: PgTransaction) -> list[tuple]:
        """(subject id, display name, created at, templates, images, consents as JSON) of
        every subject, by subject id (byte order, as SQLite sorts)."""
        return tx.connection.execute(
            "SELECT s.subject_id, s.display_name, s.created_at, "
            "(SELECT count(*) FROM templates t WHERE t.subject_pk = s.pk), "
            "(SELECT count(*) FROM images i WHERE i.subject_pk = s.pk), "
            "(SELECT coalesce(json_agg(json_build_object('legal_basis', legal_basis, "
            "'evidence', evidence, 'obtained_at', obtained_at, 'expires_at', expires_at) "
            "ORDER BY consent_id), '[]')::text FROM consents c WHERE c.subject_pk = s.pk) "
            "FROM subjects s ORDER BY s.subject_id COLLATE \"C\"").fetchall()

    # -- search ------------------------------------------------------------------------------

    def ensure_index(self) -> bool:
        """Build the HNSW index once the gallery holds ``index_min`` templates; True when it
        exists afterwards."""
        with self.write() as tx:
            con = tx.connection
            if con.execute("SELECT to_regclass(%s) IS NOT NULL", (HNSW_INDEX,)).fetchone()[0]:
                return True
            if con.execute("SELECT count(*) FROM templates").fetchone()[0] < self.index_min:
                return False
            con.execute(f"CREATE INDEX IF NOT EXISTS {HNSW_INDEX} ON templates "
                        "USING hnsw (embedding vector_cosine_ops) "
                        "WITH (m = 16, ef_construction = 64)")
        return True

    def search_stats(self) -> tuple[int, int]:
        """(templates stored, most templates any one subject has)."""
        with self.read() as tx:
            n = tx.connection.execute("SELECT count(*) FROM templates").fetchone()[0]
            per = tx.connection.execute(
                "SELECT max(c) FROM (SELECT count(*) AS c FROM templates "
                "GROUP BY subject_pk) per").fetchone()[0]
        return int(n), int(per or 0)

    # -- erasure: the table files and the WAL ------------------------------------------------

    def require_exclusive(self, bound_s: float) -> None:
        """Nothing to check: no reader's snapshot keeps deleted rows in the files once
        ``VACUUM (FULL)`` has rewritten them (it waits for the readers' locks instead)."""

    def compact(self, bound_s: float) -> None:
        """``VACUUM (FULL)`` every table an erasure touches (new files for table, indexes and
        TOAST; the old files are removed), clear ``compact_pending``, then ``CHECKPOINT``.

        Raises :class:`ErasureIncompleteError` when another session's lock keeps VACUUM from
        running within ``bound_s`` seconds; the next compaction finishes it.
        """
        bound_ms = int(1000 * bound_s)
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
