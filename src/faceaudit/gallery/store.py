"""Where the gallery lives: subjects, consent, templates, identification results, reviews.

:class:`GalleryStore` holds the gallery's rules — which subject ids are valid, that one gallery
holds one backend's templates, that every change to the set of templates bumps a
``generation`` counter in the same transaction (so an in-memory search index can tell whether it
is current), that an erasure takes a subject's every row and scrubs its id from stored results
and the notes on them, that retention erases the subjects whose consent has run out, and that a
result gets one review task per (face, candidate), each decided at most once per reviewer
(:mod:`faceaudit.gallery.review_tasks`) — over a :class:`GalleryStorage`, which holds only the
SQL dialect, connections and transactions of one backend, the way
:class:`~faceaudit.ledger.store.Ledger` sits over its ``EventLog``:

* :class:`SqliteGalleryStore` (the default): one SQLite file in WAL mode with ``secure_delete``
  (:class:`~faceaudit.gallery.sqlite_storage.SqliteStorage`);
* :class:`PgGalleryStore`: PostgreSQL + pgvector, for service replicas sharing one database
  (:class:`~faceaudit.gallery.postgres_storage.PgStorage`), with search in the database.

Every write method takes an optional :class:`Intent`: the ledger events that will record the
write are stored in ``pending_events`` *in the same transaction*, so a crash between the commit
and the ledger append can be rolled forward (see ``faceaudit.deployment.oplog``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from faceaudit.gallery import review_tasks
from faceaudit.gallery.commitments import consent_commitment, template_commitment
from faceaudit.gallery.errors import (
    BackendMismatchError,
    InvalidSubjectIdError,
    UnknownResultError,
    UnknownSubjectError,
)
from faceaudit.gallery.postgres_search import PgTemplateSearch
from faceaudit.gallery.postgres_storage import PgStorage
from faceaudit.gallery.records import (
    Consent,
    Intent,
    NewTemplate,
    PendingRows,
    RowCensus,
    SubjectRows,
    TemplateSet,
    WriteResult,
    utc_iso,
)
from faceaudit.gallery.sqlite_storage import SqliteStorage
from faceaudit.gallery.storage import GalleryStorage, Transaction
from faceaudit.gallery.template_search import INDEX_MIN_TEMPLATES

if TYPE_CHECKING:
    from faceaudit.base.home import Home

SUBJECT_ID_PATTERN = re.compile(r"[A-Za-z0-9._:@-]{1,128}")
#: How long an erasure waits for readers to let go before it fails loudly (seconds).
ERASE_CHECKPOINT_BOUND_S = 10.0

RESULT_KEYS = ("result_id", "created_at", "actor", "purpose", "case", "backend_id",
               "threshold", "fmr_target")


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


def scrub_faces(faces: list[dict], subject_id: str) -> list[dict]:
    """``faces`` of a stored result with every candidate that was ``subject_id`` made
    anonymous: its ``subject_id`` null and ``erased`` true (changed in place, and returned)."""
    for face in faces:
        for candidate in face["candidates"]:
            if candidate["subject_id"] == subject_id:
                candidate["subject_id"] = None
                candidate["erased"] = True
    return faces


class GalleryStore:
    """The gallery's rules over one :class:`GalleryStorage` (see the module's docstring).

    ``erase_bound_s`` is how long an erasure waits for readers before failing loudly.
    """

    def __init__(self, storage: GalleryStorage, *,
                 erase_bound_s: float = ERASE_CHECKPOINT_BOUND_S) -> None:
        self.storage = storage
        #: how long an erasure waits for readers before failing loudly (seconds)
        self.erase_bound_s = erase_bound_s

    def describe(self) -> str:
        """Where the gallery lives, for messages."""
        return self.storage.describe()

    def exists(self) -> bool:
        """Whether the gallery's storage has been created."""
        return self.storage.exists()

    # -- counters, flags and pending ledger events -------------------------------------------

    def _meta(self, tx: Transaction, key: str) -> str | None:
        row = tx.execute(f"SELECT value FROM {self.storage.meta_table} WHERE key = ?",
                         (key,)).fetchone()
        return None if row is None else str(row[0])

    def _generation(self, tx: Transaction) -> int:
        return int(tx.execute(f"SELECT value FROM {self.storage.meta_table} "
                              "WHERE key = 'generation'").fetchone()[0])

    def _bump(self, tx: Transaction) -> int:
        """Count one change to the set of templates, in the transaction that makes it."""
        tx.execute(f"UPDATE {self.storage.meta_table} "
                   "SET value = CAST(CAST(value AS BIGINT) + 1 AS TEXT) WHERE key = 'generation'")
        return self._generation(tx)

    def _set_compact_pending(self, tx: Transaction) -> None:
        tx.execute(f"INSERT INTO {self.storage.meta_table}(key, value) "
                   "VALUES ('compact_pending', '1') "
                   "ON CONFLICT (key) DO UPDATE SET value = excluded.value")

    @staticmethod
    def _note_intent(tx: Transaction, intent: Intent | None, outcome: Any) -> None:
        """Keep the ledger events of this write beside it, in the same transaction."""
        if intent is None:
            return
        tx.execute(
            "INSERT INTO pending_events(intent_id, created_at, events) VALUES (?, ?, ?)",
            (intent.intent_id, utc_iso(datetime.now(UTC)), json.dumps(intent.events(outcome))),
        )

    def pending_intent(self, intent_id: str) -> list[dict[str, Any]] | None:
        """The ledger events a committed write still owes the ledger, or None (not committed,
        or already recorded and cleared)."""
        with self.storage.read() as tx:
            row = tx.execute(
                "SELECT events FROM pending_events WHERE intent_id = ?", (intent_id,)
            ).fetchone()
        return None if row is None else json.loads(row[0])

    def pending_intent_ids(self) -> list[str]:
        """Ids of every write whose ledger events are still pending."""
        with self.storage.read() as tx:
            return [r[0] for r in tx.execute(
                "SELECT intent_id FROM pending_events ORDER BY created_at")]

    def clear_intent(self, intent_id: str) -> None:
        """Forget the pending events of ``intent_id`` (they are in the ledger now)."""
        with self.storage.write() as tx:
            tx.execute("DELETE FROM pending_events WHERE intent_id = ?", (intent_id,))

    @staticmethod
    def _subject_pk(tx: Transaction, subject_id: str) -> int:
        row = tx.execute("SELECT pk FROM subjects WHERE subject_id = ?", (subject_id,)).fetchone()
        if row is None:
            raise UnknownSubjectError(f"no subject {subject_id!r} in the gallery")
        return int(row[0])

    # -- templates ---------------------------------------------------------------------------

    @staticmethod
    def _held_backend(tx: Transaction) -> str | None:
        row = tx.execute("SELECT backend_id FROM templates LIMIT 1").fetchone()
        return None if row is None else str(row[0])

    def gallery_backend(self) -> str | None:
        """The backend id of the stored templates, or None when there are none."""
        with self.storage.read() as tx:
            return self._held_backend(tx)

    def generation(self) -> int:
        """A counter bumped by every change to the set of templates."""
        with self.storage.read() as tx:
            return self._generation(tx)

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
        with self.storage.write() as tx:
            held = self._held_backend(tx)
            refuse_other_backend(held, backend_id)
            if templates and held is None:
                self.storage.fit_dimension(tx, int(np.asarray(templates[0].embedding).size))
            tx.execute(
                "INSERT INTO subjects(subject_id, display_name, created_at) VALUES (?, ?, ?) "
                "ON CONFLICT (subject_id) DO UPDATE SET "
                "display_name = coalesce(excluded.display_name, subjects.display_name)",
                (subject_id, display_name, created),
            )
            pk = self._subject_pk(tx, subject_id)
            tx.execute(
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
            ids = self.storage.add_templates(tx, pk, backend_id, templates, created)
            tx.executemany(
                "INSERT INTO images(subject_pk, data, created_at) VALUES (?, ?, ?)",
                [(pk, data, created) for data in images],
            )
            generation = self._bump(tx)
            stored = self._rows_of(tx, [subject_id], template_ids=ids)[0]
            consent_record = consent_commitment(
                subject_id, consent.legal_basis, consent.evidence, utc_iso(consent.obtained_at),
                None if consent.expires_at is None else utc_iso(consent.expires_at))
            written = WriteResult(ids, generation, [subject_id], len(images),
                                  template_commitments=stored.templates,
                                  consent_commitment=consent_record)
            self._note_intent(tx, intent, written)
        self.storage.templates_added()
        return written

    def subject_rows(self, subject_ids: list[str]) -> list[SubjectRows]:
        """The stored rows of ``subject_ids`` as commitments (templates and consent records),
        to check against what the ledger recorded; an unknown subject has no rows."""
        with self.storage.read() as tx:
            return self._rows_of(tx, subject_ids)

    def row_census(self) -> RowCensus:
        """The count of template and consent rows and the pending outcome events, in one read
        (what every operation compares with the record: a row deleted or inserted behind the
        deployment's back changes a count; cost: two counts, never a read of the rows)."""
        with self.storage.read() as tx:
            templates = tx.execute("SELECT count(*) FROM templates").fetchone()[0]
            consents = tx.execute("SELECT count(*) FROM consents").fetchone()[0]
            pending = self._pending(tx)
        return RowCensus(int(templates), int(consents), pending)

    def every_subject_rows(self) -> PendingRows:
        """Every subject's rows as commitments, with the pending outcome events, in one read
        (``ledger verify`` and a deployment's first operation: a scan of the gallery)."""
        with self.storage.read() as tx:
            ids = [r[0] for r in tx.execute("SELECT subject_id FROM subjects ORDER BY pk")]
            templates: dict[str, list[tuple[int, str]]] = {subject: [] for subject in ids}
            consents: dict[str, list[str]] = {subject: [] for subject in ids}
            rows = tx.execute(  # one pass over every template, not a query per subject
                f"SELECT s.subject_id, t.template_id, t.backend_id, {self.storage.embedding_sql}"
                " FROM templates t JOIN subjects s ON s.pk = t.subject_pk "
                "ORDER BY s.pk, t.template_id").fetchall()
            if rows:
                vectors = self.storage.embedding_matrix([r[3] for r in rows])
                for (subject, tid, backend, _), vector in zip(rows, vectors, strict=True):
                    templates[subject].append(
                        (int(tid), template_commitment(subject, int(tid), backend, vector)))
            for subject, *consent in tx.execute(
                    "SELECT s.subject_id, c.legal_basis, c.evidence, c.obtained_at, "
                    "c.expires_at FROM consents c JOIN subjects s ON s.pk = c.subject_pk "
                    "ORDER BY s.pk, c.consent_id").fetchall():
                consents[subject].append(consent_commitment(subject, *consent))
            return PendingRows([SubjectRows(subject, templates[subject], consents[subject])
                                for subject in ids], self._pending(tx))

    @staticmethod
    def _pending(tx: Transaction) -> list[dict[str, Any]]:
        return [event for row in tx.execute("SELECT events FROM pending_events")
                for event in json.loads(row[0])]

    def _rows_of(self, tx: Transaction, subject_ids: list[str],
                 template_ids: list[int] | None = None) -> list[SubjectRows]:
        out = []
        for subject_id in subject_ids:
            row = tx.execute("SELECT pk FROM subjects WHERE subject_id = ?",
                             (subject_id,)).fetchone()
            if row is None:
                out.append(SubjectRows(subject_id, [], []))
                continue
            templates = tx.execute(
                f"SELECT template_id, backend_id, {self.storage.embedding_sql} FROM templates "
                "WHERE subject_pk = ? ORDER BY template_id", (row[0],)).fetchall()
            if template_ids is not None:
                wanted = set(template_ids)
                templates = [t for t in templates if t[0] in wanted]
            committed = [
                (int(tid), template_commitment(subject_id, int(tid), backend,
                                               self.storage.embedding_matrix([value])[0]))
                for tid, backend, value in templates]
            consents = [consent_commitment(subject_id, *c) for c in tx.execute(
                "SELECT legal_basis, evidence, obtained_at, expires_at FROM consents "
                "WHERE subject_pk = ? ORDER BY consent_id", (row[0],)).fetchall()]
            out.append(SubjectRows(subject_id, committed, consents))
        return out

    # -- erasure and retention ---------------------------------------------------------------

    def _bound(self, bound_s: float | None) -> float:
        return self.erase_bound_s if bound_s is None else bound_s

    def erase(
        self, subject_id: str, *, intent: Intent | None = None, compact: bool = True,
        bound_s: float | None = None,
    ) -> WriteResult:
        """Delete a subject and everything about it, leaving no embedding bytes in the files.

        First makes sure nothing keeps the deletion from being completed
        (:meth:`require_exclusive`, within ``bound_s`` seconds; :class:`ErasureBlockedError`
        otherwise, before anything is deleted). Then deletes, in one transaction, the
        templates, kept images, consent records and the subject, replaces the subject's id in
        stored results by ``null`` and drops the review notes of those results; with
        ``compact`` (the default) it then runs :meth:`compact`, so that no embedding bytes stay
        in the files. A caller that passes ``compact=False`` must call :meth:`compact` itself.
        """
        check_subject_id(subject_id)
        bound_s = self._bound(bound_s)
        self.require_exclusive(bound_s)
        with self.storage.write() as tx:
            pk = self._subject_pk(tx, subject_id)
            ids, n_images, hashes = self._delete_subject(tx, pk, subject_id)
            generation = self._bump(tx)
            self._set_compact_pending(tx)
            written = WriteResult(ids, generation, [subject_id], n_images, hashes)
            self._note_intent(tx, intent, written)
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
        bound_s = self._bound(bound_s)
        self.require_exclusive(bound_s)
        with self.storage.write() as tx:
            expired = [(int(pk), str(subject_id)) for pk, subject_id in tx.execute(
                "SELECT s.pk, s.subject_id FROM subjects s JOIN consents c ON c.subject_pk = s.pk "
                "GROUP BY s.pk HAVING count(c.expires_at) = count(*) AND max(c.expires_at) <= ? "
                "ORDER BY s.subject_id",
                (utc_iso(now),),
            ).fetchall()]
            ids: list[int] = []
            hashes: list[str] = []
            n_images = 0
            for pk, subject_id in expired:
                subject_templates, subject_images, subject_hashes = self._delete_subject(
                    tx, pk, subject_id)
                ids += subject_templates
                n_images += subject_images
                hashes += subject_hashes
            generation = self._bump(tx) if expired else self._generation(tx)
            if expired:
                self._set_compact_pending(tx)
            written = WriteResult(ids, generation, [s for _, s in expired], n_images, hashes)
            self._note_intent(tx, intent, written)
        if expired and compact:
            self.compact(bound_s)
        return written

    def _delete_subject(self, tx: Transaction, pk: int, subject_id: str
                        ) -> tuple[list[int], int, list[str]]:
        rows = tx.execute("SELECT template_id, image_sha256 FROM templates "
                          "WHERE subject_pk = ? ORDER BY template_id", (pk,)).fetchall()
        ids = [int(r[0]) for r in rows]
        hashes = sorted({r[1] for r in rows if r[1]})
        n_images = tx.execute("SELECT count(*) FROM images WHERE subject_pk = ?",
                              (pk,)).fetchone()[0]
        for table in ("templates", "images", "consents"):
            tx.execute(f"DELETE FROM {table} WHERE subject_pk = ?", (pk,))
        tx.execute("DELETE FROM subjects WHERE pk = ?", (pk,))
        self._scrub_results(tx, subject_id)
        return ids, int(n_images), hashes

    def _scrub_results(self, tx: Transaction, subject_id: str) -> None:
        """Replace the subject's id in stored results by null and drop the reviewer's notes on
        those results (and any note naming the subject): free text may say who it was."""
        needle = json.dumps(subject_id)
        naming = self.storage.contains("faces")
        rows = tx.execute(f"SELECT result_id, faces FROM results WHERE {naming}",
                          (needle,)).fetchall()
        # ``reviews``: the one review per result of homes made before per-candidate tasks
        tx.execute(
            "UPDATE reviews SET note = NULL WHERE note IS NOT NULL AND "
            f"({self.storage.contains('note')} "
            f"OR result_id IN (SELECT result_id FROM results WHERE {naming}))",
            (subject_id, needle),
        )
        review_tasks.scrub_texts(tx, self.storage.contains, naming, subject_id, needle)
        for result_id, faces_json in rows:
            faces = scrub_faces(json.loads(faces_json), subject_id)
            tx.execute("UPDATE results SET faces = ? WHERE result_id = ?",
                       (json.dumps(faces), result_id))

    def compact_pending(self) -> bool:
        """True when an erasure committed but its bytes may still be in the files."""
        with self.storage.read() as tx:
            return self._meta(tx, "compact_pending") == "1"

    def require_exclusive(self, bound_s: float | None = None) -> None:
        """Raise :class:`ErasureBlockedError` unless an erasure could complete its deletion
        within ``bound_s`` seconds (SQLite: the WAL can be checkpointed and truncated, no other
        connection holds an old snapshot)."""
        self.storage.require_exclusive(self._bound(bound_s))

    def compact(self, bound_s: float | None = None) -> None:
        """Make the bytes of erased rows leave the files (SQLite: ``VACUUM`` and a truncated
        WAL; PostgreSQL: ``VACUUM (FULL)`` and checkpoints past the WAL segment).

        Raises :class:`ErasureIncompleteError` when a reader keeps them there for ``bound_s``
        seconds; the erasure stands and the next compaction finishes it.
        """
        self.storage.compact(self._bound(bound_s))

    # -- reading templates and subjects ------------------------------------------------------

    def load_templates(self, backend_id: str) -> TemplateSet:
        """Every template of ``backend_id`` as one matrix, with a consistent generation."""
        with self.storage.read() as tx:
            generation = self._generation(tx)
            rows = tx.execute(
                f"SELECT t.template_id, s.subject_id, t.{self.storage.embedding_sql} "
                "FROM templates t JOIN subjects s ON s.pk = t.subject_pk "
                "WHERE t.backend_id = ? ORDER BY t.template_id",
                (backend_id,),
            ).fetchall()
        if not rows:
            return TemplateSet(np.empty(0, np.int64), [], np.empty((0, 0), np.float32), generation)
        template_ids, subject_ids, values = zip(*rows, strict=True)
        return TemplateSet(
            np.asarray(template_ids, dtype=np.int64),
            list(subject_ids),
            self.storage.embedding_matrix(values),
            generation,
        )

    def template_owners(self, backend_id: str) -> TemplateSet:
        """The ids and subjects of every template of ``backend_id``, without the embeddings
        (an empty ``(0, 0)`` matrix): what a persisted search index is checked against."""
        with self.storage.read() as tx:
            generation = self._generation(tx)
            rows = tx.execute(
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
        with self.storage.read() as tx:
            pk = self._subject_pk(tx, subject_id)
            values = [r[0] for r in tx.execute(
                f"SELECT {self.storage.embedding_sql} FROM templates WHERE subject_pk = ? "
                "ORDER BY template_id", (pk,))]
        if not values:
            return np.empty((0, 0), np.float32)
        return self.storage.embedding_matrix(values)

    def result_ids(self) -> list[str]:
        """Every stored identification result's id, oldest first."""
        with self.storage.read() as tx:
            return [r[0] for r in tx.execute(
                "SELECT result_id FROM results ORDER BY created_at, result_id").fetchall()]

    def held_about(self, subject_id: str) -> dict[str, Any]:
        """Everything the gallery holds about one subject, for an access request (GDPR
        Art. 15): the subject row, its consent records, its templates (ids, backend, times,
        image and row hashes — never the embeddings), how many enrolment images are kept, and
        every stored identification result that names it as a candidate."""
        check_subject_id(subject_id)
        with self.storage.read() as tx:
            row = tx.execute("SELECT pk, display_name, created_at FROM subjects "
                             "WHERE subject_id = ?", (subject_id,)).fetchone()
            held: dict[str, Any] = {"subject": None, "consents": [], "templates": [],
                                    "kept_images": 0}
            if row is not None:
                pk = row[0]
                held["subject"] = {"subject_id": subject_id, "display_name": row[1],
                                   "created_at": row[2]}
                held["consents"] = [
                    dict(zip(("legal_basis", "evidence", "obtained_at", "expires_at"), c,
                             strict=True))
                    for c in tx.execute("SELECT legal_basis, evidence, obtained_at, expires_at "
                                        "FROM consents WHERE subject_pk = ? ORDER BY consent_id",
                                        (pk,)).fetchall()]
                commitments = dict(self._rows_of(tx, [subject_id])[0].templates)
                held["templates"] = [
                    {"template_id": t[0], "backend_id": t[1], "created_at": t[2],
                     "image_sha256": t[3], "row_sha256": commitments.get(t[0])}
                    for t in tx.execute("SELECT template_id, backend_id, created_at, "
                                        "image_sha256 FROM templates WHERE subject_pk = ? "
                                        "ORDER BY template_id", (pk,)).fetchall()]
                (held["kept_images"],) = tx.execute(
                    "SELECT count(*) FROM images WHERE subject_pk = ?", (pk,)).fetchone()
            needle = f'%"subject_id": {json.dumps(subject_id)}%'
            results = tx.execute(
                "SELECT result_id, created_at, purpose, case_id, faces FROM results "
                "WHERE faces LIKE ? ORDER BY created_at", (needle,)).fetchall()
            held["candidate_in"] = [
                {"result_id": r[0], "created_at": r[1], "purpose": r[2], "case": r[3],
                 "face": index, "rank": c.get("rank"), "score": c.get("score"),
                 **self._review_of(tx, r[0], index, position)}
                for r in results
                for index, face in enumerate(json.loads(r[4]))
                for position, c in enumerate(face.get("candidates", []))
                if c.get("subject_id") == subject_id]
        return held

    @staticmethod
    def _review_of(tx: Transaction, result_id: str, face: int, candidate: int
                   ) -> dict[str, Any]:
        """The review task of one candidate, its decisions and lead records (no reviewer
        notes, no evidence text: they may name other people)."""
        row = tx.execute("SELECT task_id FROM review_tasks WHERE result_id = ? AND "
                         "face_index = ? AND candidate_index = ?",
                         (result_id, face, candidate)).fetchone()
        if row is None:
            return {"task_id": None, "decisions": [], "lead_records": []}
        decisions = [{"decision": d, "created_at": t} for d, t in tx.execute(
            "SELECT decision, created_at FROM review_decisions WHERE task_id = ? "
            "ORDER BY created_at", (row[0],)).fetchall()]
        leads = [{"step": step, "kind": kind, "created_at": t} for step, kind, t in tx.execute(
            "SELECT step, kind, created_at FROM lead_records WHERE task_id = ? "
            "ORDER BY record_id", (row[0],)).fetchall()]
        return {"task_id": row[0], "decisions": decisions, "lead_records": leads}

    def subject_count(self, backend_id: str) -> int:
        """How many subjects have templates of ``backend_id``: the size of its 1:N gallery."""
        with self.storage.read() as tx:
            (count,) = tx.execute(
                "SELECT count(DISTINCT subject_pk) FROM templates WHERE backend_id = ?",
                (backend_id,),
            ).fetchone()
        return int(count)

    def list_subjects(self) -> list[dict]:
        """Subjects with their consent and template counts — never embeddings."""
        with self.storage.read() as tx:
            rows = self.storage.subject_rows(tx)
        return [
            {
                "subject_id": subject_id,
                "display_name": name,
                "created_at": created,
                "templates": int(n_templates),
                "images": int(n_images),
                "consents": json.loads(consents),
            }
            for subject_id, name, created, n_templates, n_images, consents in rows
        ]

    # -- identification results and reviews --------------------------------------------------

    def save_result(self, result: dict, *, intent: Intent | None = None,
                    crops: dict[int, bytes] | None = None,
                    crops_expire_at: str | None = None) -> None:
        """Store an identification result (no probe biometrics) for later human review, with
        its review tasks and, when the policy keeps them, the ``crops`` of its faces (by face
        index) until ``crops_expire_at``."""
        with self.storage.write() as tx:
            tx.execute(
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
            review_tasks.insert_tasks(tx, result["result_id"], result["faces"],
                                      datetime.now(UTC).isoformat(timespec="microseconds"))
            if crops and crops_expire_at:
                tx.executemany("INSERT INTO probe_crops(result_id, face_index, data, expires_at) "
                               "VALUES (?, ?, ?, ?)",
                               [(result["result_id"], face, data, crops_expire_at)
                                for face, data in sorted(crops.items())])
            if result.get("held_until"):
                tx.execute("INSERT INTO holds(result_id, case_id, deadline) VALUES (?, ?, ?)",
                           (result["result_id"], result["case"], result["held_until"]))
            self._note_intent(tx, intent, result)

    def held_results(self) -> list[dict]:
        """The results held until their urgent search is authorised, oldest deadline first:
        ``[{"result_id", "case", "deadline"}]``."""
        with self.storage.read() as tx:
            rows = tx.execute(
                "SELECT result_id, case_id, deadline FROM holds ORDER BY deadline").fetchall()
        return [{"result_id": r, "case": c, "deadline": d} for r, c, d in rows]

    def release_hold(self, result_id: str, *, intent: Intent | None = None) -> dict:
        """Release a held result (its search was authorised); return it."""
        with self.storage.write() as tx:
            result = self._result(tx, result_id)
            tx.execute("DELETE FROM holds WHERE result_id = ?", (result_id,))
            self._note_intent(tx, intent, result)
            return result

    def delete_search_outputs(self, result_ids: list[str], *, intent: Intent | None = None,
                              bound_s: float | None = None) -> list[str]:
        """Delete what searches produced — their results (boxes, candidate lists and scores),
        holds, probe crops, review tasks, decisions and lead records — so that no byte of them
        stays in the files (compacted like an erasure). Returns the ids that were deleted."""
        bound_s = self._bound(bound_s)
        self.require_exclusive(bound_s)
        deleted = []
        with self.storage.write() as tx:
            for result_id in result_ids:
                self._result(tx, result_id)
                review_tasks.delete_for_result(tx, result_id)
                for table in ("reviews", "probe_crops", "holds", "results"):
                    tx.execute(f"DELETE FROM {table} WHERE result_id = ?", (result_id,))
                deleted.append(result_id)
            self._set_compact_pending(tx)
            self._note_intent(tx, intent, deleted)
        self.compact(bound_s)
        return deleted

    def probe_crop(self, result_id: str, face: int) -> bytes | None:
        """The kept crop of one searched face (None when the policy keeps none, or it was
        purged)."""
        with self.storage.read() as tx:
            row = tx.execute("SELECT data FROM probe_crops WHERE result_id = ? AND "
                             "face_index = ?", (result_id, face)).fetchone()
        return None if row is None else bytes(row[0])

    def subject_image(self, subject_id: str) -> bytes | None:
        """The first kept enrolment image of a subject (None when none was kept, or the
        subject is not enrolled)."""
        with self.storage.read() as tx:
            row = tx.execute("SELECT i.data FROM images i JOIN subjects s ON s.pk = i.subject_pk "
                             "WHERE s.subject_id = ? ORDER BY i.image_id LIMIT 1",
                             (subject_id,)).fetchone()
        return None if row is None else bytes(row[0])

    def expired_crops(self, now: datetime) -> list[str]:
        """The results whose kept probe crops expired at or before ``now``."""
        with self.storage.read() as tx:
            return [r[0] for r in tx.execute(
                "SELECT DISTINCT result_id FROM probe_crops WHERE expires_at <= ? "
                "ORDER BY result_id", (utc_iso(now),))]

    def purge_probe_crops(self, now: datetime, *, intent: Intent | None = None,
                          bound_s: float | None = None) -> list[str]:
        """Delete every probe crop whose review period ended at or before ``now``, so that no
        byte of them stays in the files (compacted like an erasure); return their results."""
        bound_s = self._bound(bound_s)
        self.require_exclusive(bound_s)
        with self.storage.write() as tx:
            ids = [r[0] for r in tx.execute(
                "SELECT DISTINCT result_id FROM probe_crops WHERE expires_at <= ? "
                "ORDER BY result_id", (utc_iso(now),))]
            tx.execute("DELETE FROM probe_crops WHERE expires_at <= ?", (utc_iso(now),))
            self._set_compact_pending(tx)
            self._note_intent(tx, intent, ids)
        self.compact(bound_s)
        return ids

    def get_result(self, result_id: str) -> dict:
        """Return a stored identification result with its review tasks (``tasks``: each with
        its candidate, every decision and lead record — not for a blind reviewer's eyes)."""
        with self.storage.read() as tx:
            return self._result(tx, result_id)

    @staticmethod
    def _result(tx: Transaction, result_id: str) -> dict:
        row = tx.execute(
            "SELECT result_id, created_at, actor, purpose, case_id, backend_id, threshold, "
            "fmr_target, faces FROM results WHERE result_id = ?",
            (result_id,),
        ).fetchone()
        if row is None:
            raise UnknownResultError(f"no identification result {result_id!r}")
        out = dict(zip(RESULT_KEYS, row[:8], strict=True))
        out["faces"] = json.loads(row[8])
        out["tasks"] = review_tasks.task_rows(tx, result_id=result_id, include_held=True)
        hold = tx.execute("SELECT deadline FROM holds WHERE result_id = ?",
                          (result_id,)).fetchone()
        out["held_until"] = None if hold is None else hold[0]
        return out

    def review_tasks(self) -> list[dict]:
        """Every review task of results not held, oldest result first, each with its candidate
        as stored, its decisions and its lead records (the deployment filters and presents)."""
        with self.storage.read() as tx:
            return review_tasks.task_rows(tx)

    def backfill_review_tasks(self) -> int:
        """Once per gallery: give the results stored before per-candidate review their tasks
        (a ``review_tasks_backfilled`` flag marks it done); return how many were created."""
        with self.storage.read() as tx:
            if self._meta(tx, "review_tasks_backfilled") == "1":
                return 0
        with self.storage.write() as tx:
            created = review_tasks.backfill(
                tx, datetime.now(UTC).isoformat(timespec="microseconds"))
            tx.execute(f"INSERT INTO {self.storage.meta_table}(key, value) "
                       "VALUES ('review_tasks_backfilled', '1') "
                       "ON CONFLICT (key) DO UPDATE SET value = excluded.value")
        return created

    def get_task(self, task_id: str) -> dict:
        """One review task (:class:`UnknownReviewTaskError` when there is none)."""
        with self.storage.read() as tx:
            return review_tasks.one_task(tx, task_id)

    def add_decision(
        self, task_id: str, *, decision: str, reviewer: str, actor: str, note: str | None,
        now: datetime, intent: Intent | None = None, limit: int | None = None,
    ) -> dict:
        """Record ``reviewer``'s decision on one review task; return the task.

        Raises UnknownReviewTaskError for an unknown id and AlreadyDecidedError for a second
        decision by the same reviewer, or one past ``limit`` decisions on the task.
        """
        with self.storage.write() as tx:
            review_tasks.one_task(tx, task_id)
            review_tasks.insert_decision(tx, task_id, decision=decision, reviewer=reviewer,
                                         actor=actor, note=note, created_at=utc_iso(now),
                                         limit=limit)
            decided = review_tasks.one_task(tx, task_id)
            self._note_intent(tx, intent, decided)
            return decided

    def add_lead_record(
        self, task_id: str, *, step: str, kind: str, evidence: str | None, recorded_by: str,
        actor: str, now: datetime, intent: Intent | None = None,
    ) -> dict:
        """Record what was done with a lead (``step`` ``action``) or how it ended
        (``outcome``); return the task."""
        with self.storage.write() as tx:
            review_tasks.one_task(tx, task_id)
            review_tasks.insert_lead_record(tx, task_id, step=step, kind=kind,
                                            evidence=evidence, recorded_by=recorded_by,
                                            actor=actor, created_at=utc_iso(now))
            recorded = review_tasks.one_task(tx, task_id)
            self._note_intent(tx, intent, recorded)
            return recorded


class SqliteGalleryStore(GalleryStore):
    """:class:`GalleryStore` on one SQLite file (WAL, ``secure_delete``, synchronous=FULL)."""

    def __init__(self, path: Path, *, erase_bound_s: float = ERASE_CHECKPOINT_BOUND_S):
        self._sqlite = SqliteStorage(path)
        super().__init__(self._sqlite, erase_bound_s=erase_bound_s)

    @property
    def path(self) -> Path:
        """The gallery's database file."""
        return self._sqlite.path


class PgGalleryStore(GalleryStore):
    """:class:`GalleryStore` in the PostgreSQL database at ``url``, searched in the database.

    Writers are serialised by a transaction-level advisory lock; readers see one snapshot
    (``REPEATABLE READ``) and never block writers. From ``index_min`` templates on, search goes
    through a pgvector HNSW index.
    """

    def __init__(self, url: str, *, index_min: int = INDEX_MIN_TEMPLATES) -> None:
        self._pg = PgStorage(url, index_min=index_min)
        super().__init__(self._pg)

    @property
    def url(self) -> str:
        """The database's URL."""
        return self._pg.url

    @property
    def index_min(self) -> int:
        """From this many templates on, search goes through the HNSW index."""
        return self._pg.index_min

    def ensure_index(self) -> bool:
        """Build the HNSW index once the gallery holds ``index_min`` templates; True when it
        exists afterwards."""
        return self._pg.ensure_index()

    @contextmanager
    def bulk_load(self, dim: int) -> Iterator[Any]:
        """One write transaction for loading templates in bulk with PostgreSQL's own SQL
        (``COPY``; see :func:`faceaudit.gallery.synthetic.load_into_postgres`): yields its
        psycopg connection, the embedding column fitted to ``dim``; the load counts as one
        change to the templates (the generation is bumped before the commit), and the HNSW
        index is built afterwards when the gallery is large enough."""
        with self._pg.write() as tx:
            self._pg.fit_dimension(tx, dim)
            yield tx.connection
            self._bump(tx)
        self._pg.ensure_index()

    def template_search(self, backend_id: str) -> PgTemplateSearch:
        """A search over the stored templates that runs in the database."""
        return PgTemplateSearch(self._pg, self.generation())

    def search_stats(self) -> tuple[int, int]:
        """(templates stored, most templates any one subject has)."""
        return self._pg.search_stats()


def open_gallery_store(home: Home) -> GalleryStore:
    """The gallery of ``home``: PostgreSQL (:class:`PgGalleryStore`) when a database URL is in
    force, else the home's SQLite file (:class:`SqliteGalleryStore`)."""
    url = home.database_url_in_force()
    if url:
        return PgGalleryStore(url)
    return SqliteGalleryStore(home.db_path)


__all__ = [
    "ERASE_CHECKPOINT_BOUND_S",
    "Consent",
    "GalleryStorage",
    "GalleryStore",
    "Intent",
    "NewTemplate",
    "PgGalleryStore",
    "SqliteGalleryStore",
    "TemplateSet",
    "WriteResult",
    "check_subject_id",
    "open_gallery_store",
    "refuse_other_backend",
    "utc_iso",
]
