"""One deployment's operations — enrol, erase, purge, identify, verify, review — in one place.

The CLI (``faceaudit gallery …``, ``faceaudit identify``, ``faceaudit review``) and the REST
service both call :class:`Deployment`, so every rule is written once. Each operation:

1. validates the ledger events it will write (bad input: a 4xx error, nothing touched);
2. asks the policy (:func:`faceaudit.policy.enforce`), which logs and raises a refusal;
3. does the work; a write to the gallery store runs log-first through
   :class:`faceaudit.deployment.oplog.OperationLog` (``intent`` event, commit with the outcome kept
   in
   the same transaction, outcome event), so a change is never committed without its record;
4. the outcome event carries counts and ids — never embeddings or images.

Opening a Deployment reconciles operations a crash interrupted (:meth:`OperationLog.recover`).

Probe images are never stored; the crops of searched faces only where the policy keeps them for
review (``review.probe_crop_hours``), until then. Enrolment images are stored only with
``keep_images``.
No operation filters or ranks by a demographic attribute; the gallery has no such columns.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from faceaudit.base.errors import CalibrationError, NoFaceError
from faceaudit.base.home import Home
from faceaudit.deployment import probe_crops, search_holds
from faceaudit.deployment.candidates import candidate_limit, image_label
from faceaudit.deployment.case_bundle import (
    UnknownCaseError,
    build_case_bundle,
    bundle_digest,
    case_is_known,
)
from faceaudit.deployment.gallery_record import (
    GalleryRecord,
    check_census,
    check_every_subject,
    check_result,
    check_subjects,
    check_tasks,
)
from faceaudit.deployment.oplog import OperationLog, check_events, event
from faceaudit.deployment.reviews import Decision, ReviewDesk, TaskRef
from faceaudit.deployment.subject_export import build_subject_export
from faceaudit.engine import api
from faceaudit.engine.calibration import Calibration
from faceaudit.engine.models.base import Embedder
from faceaudit.gallery.basis import parse_legal_basis
from faceaudit.gallery.commitments import crop_commitment, face_commitments, image_commitment
from faceaudit.gallery.errors import (
    BackendMismatchError,
    ConsentError,
    ErasureBlockedError,
    ErasureIncompleteError,
    InvalidRequestError,
    MultipleFacesError,
    ResultHeldError,
    UnknownResultError,
)
from faceaudit.gallery.persistent_search import GallerySearcher
from faceaudit.gallery.store import (
    Consent,
    NewTemplate,
    WriteResult,
    check_subject_id,
    open_gallery_store,
    utc_iso,
)
from faceaudit.gallery.template_search import TemplateSearch
from faceaudit.ledger import Ledger, LedgerError
from faceaudit.ledger.payload import MAX_ITEMS
from faceaudit.policy import Policy, PolicyRefusal, enforce, load_policy
from faceaudit.policy.authorisation import Authorisation, urgent_deadline
from faceaudit.policy.gate import gate_record
from faceaudit.policy.probe_quality import breach_detail
from faceaudit.policy.worst_group import operating_threshold

ImageSource = bytes | Path
LEDGER_IDS_PER_EVENT = 200
_PREVIEW_ID = "0" * 32
UNIT_NORM_TOLERANCE = 1e-3
RECOVERY_COMPACT_BOUND_S = 0.5


def _flagged(faces: list[dict[str, Any]]) -> dict[str, list[int]]:
    """``{"quality_flagged": [face indices]}`` for the faces the policy's probe-quality floor
    flagged (the first MAX_ITEMS), or nothing when none was."""
    flagged = [i for i, face in enumerate(faces) if face.get("quality_flags")][:MAX_ITEMS]
    return {"quality_flagged": flagged} if flagged else {}


def _now(now: datetime | None = None) -> datetime:
    now = now or datetime.now(UTC)
    return now if now.tzinfo else now.replace(tzinfo=UTC)


def _text(name: str, value: str | None, *, required: bool) -> str | None:
    if value is None or not value.strip():
        if required:
            raise InvalidRequestError(f"{name} is required")
        return None
    return value.strip()


class Deployment:
    """The gallery, ledger and policy of one deployment home, behind one set of operations.

    ``embedder`` defaults to :func:`faceaudit.engine.api.get_embedder` and ``calibration`` to the
    one
    shipped for the embedder's backend; both load lazily, on first use. Safe to share between
    threads: the store opens a connection per operation and the search is guarded by a lock.

    Large galleries are searched through a FAISS HNSW graph saved in the home
    (:mod:`faceaudit.gallery.persistent_search`): loaded when it matches the store, else rebuilt —
    before the first query, or with ``background_index`` (the service) in a background thread
    while exact search answers. ``notify`` receives one-line progress messages.
    """

    def __init__(
        self,
        home: Home,
        embedder: Embedder | None = None,
        calibration: Calibration | None = None,
        *,
        background_index: bool = False,
        notify: Callable[[str], None] | None = None,
    ):
        self.home = home.require()
        self.store = open_gallery_store(home)
        self.ledger = Ledger(home)
        self.gallery_record = GalleryRecord(self.ledger)
        self._every_subject_checked = False
        self.oplog = OperationLog(home, self.ledger, self.store)
        self._embedder = embedder
        self._calibration = calibration
        # PostgreSQL searches in the database (pgvector): no graph file in the home
        index_path = None if home.database_url_in_force() else home.index_path
        self.searcher = GallerySearcher(self.store, index_path,
                                        background=background_index, notify=notify)
        self.recover()

    def recover(self) -> list[dict[str, Any]]:
        """Reconcile operations a crash interrupted (see :mod:`faceaudit.deployment.oplog`) and
        finish an
        erasure's compaction that a reader blocked; return the ledger events appended."""
        appended = self.oplog.recover()
        if self.store.exists() and self.store.compact_pending():
            try:
                self.store.compact(RECOVERY_COMPACT_BOUND_S)
            except ErasureIncompleteError:
                pass  # still blocked; the next erase or open retries
        if self.store.exists():
            self.searcher.recover()  # a saved graph a crash left behind a write
            self.store.backfill_review_tasks()  # results of a home made before review tasks
        return appended

    def check_gallery(self) -> None:
        """Refuse (:class:`~faceaudit.gallery.errors.GalleryTamperedError`, exit 4 / HTTP 503)
        unless the gallery agrees with the ledger's record of it: every subject's rows on this
        deployment's first operation (a process opens the home: one read of the gallery, like
        the verification of the ledger it pays once), then at every operation the row counts
        (two counts, no read of the rows), so a subject deleted or a row inserted behind the
        deployment's back refuses every later operation, not only those that touch it. Rows
        an operation relies on are checked again where it reads them."""
        if not self.store.exists():
            return
        if not self._every_subject_checked:
            check_every_subject(self.store, self.gallery_record)
            self._every_subject_checked = True
        check_census(self.store, self.gallery_record)

    # -- lazily loaded parts -----------------------------------------------------------------

    @property
    def embedder(self) -> Embedder:
        """The embedding backend (loaded on first use, once per process)."""
        if self._embedder is None:
            self._embedder = api.get_embedder()
        return self._embedder

    @property
    def backend_id(self) -> str:
        """The deployed backend's id, stored with every template and ledger event."""
        return self.embedder.backend_id

    @property
    def calibration(self) -> Calibration:
        """Score ↔ FMR calibration of the deployed backend."""
        if self._calibration is None:
            self._calibration = api.load_calibration(backend_id=self.backend_id)
        return self._calibration

    @property
    def policy(self) -> Policy:
        """The policy in force, read afresh for every operation (it may change meanwhile)."""
        return load_policy(self.home)

    def _enforce(self, operation: str, actor: str, *, purpose: str | None = None,
                 case: str | None = None, backend_id: str | None = None,
                 authorisation: Authorisation | None = None,
                 offence: str | None = None) -> Policy:
        return self._enforce_gated(operation, actor, purpose=purpose, case=case,
                                   backend_id=backend_id, authorisation=authorisation,
                                   offence=offence)[0]

    def _enforce_gated(self, operation: str, actor: str, *, purpose: str | None = None,
                       case: str | None = None, backend_id: str | None = None,
                       authorisation: Authorisation | None = None,
                       offence: str | None = None) -> tuple[Policy, dict[str, Any] | None]:
        """Enforce the policy; return it with the gate verdict the operation runs under (as
        its event records it: :func:`gate_record`), None for ungated operations."""
        _text("actor", actor, required=True)
        # the refusal event and the operation's own events carry these: check them first
        check_events([event(actor, "refused", purpose=purpose, case=case,
                            backend_id=backend_id)])
        self.check_gallery()
        policy = self.policy
        gate = enforce(policy, self.ledger, self.home, operation=operation, actor=actor,
                       purpose=purpose, case=case, backend_id=backend_id,
                       authorisation=authorisation, offence=offence)
        return policy, None if gate is None else gate_record(gate)

    # -- enrolment ---------------------------------------------------------------------------

    def enrol(
        self,
        *,
        actor: str,
        subject_id: str,
        images: Sequence[ImageSource],
        basis: str,
        evidence: str,
        expires_at: datetime | None = None,
        display_name: str | None = None,
        keep_images: bool = False,
        allow_duplicate: bool = False,
    ) -> dict[str, Any]:
        """Enrol ``subject_id`` from ``images`` (each must show exactly one face).

        Records a consent record (legal ``basis`` — a :class:`~faceaudit.gallery.basis.
        LegalBasis` name or ``other:<note>`` —, ``evidence`` reference, optional expiry), one
        template per image with the image's SHA-256, and the image bytes only when
        ``keep_images``. Enrolling an existing subject adds templates and a consent record.
        A face that matches *another* enrolled subject at the policy's operating point is
        refused (``duplicate-face``, logged) unless ``allow_duplicate``; then it is enrolled
        with a warning, and the match is recorded in the enrol event.
        """
        consent = self._consent(subject_id, basis, evidence, expires_at)
        if not images:
            raise InvalidRequestError("enrolment needs at least one image")
        self._check_enrol_event(actor, subject_id, consent, display_name)
        backend_id = self.backend_id
        policy = self._enforce("enrol", actor, backend_id=backend_id)
        raw = [src if isinstance(src, bytes) else self._read(src) for src in images]
        labels = [f"image {i + 1}" if isinstance(src, bytes) else str(src)  # name the file
                  for i, src in enumerate(images)]
        templates = [self._single_face(data, label)
                     for data, label in zip(raw, labels, strict=True)]
        return self._commit_enrolment(
            actor, subject_id, consent, backend_id, templates,
            raw if keep_images else [], display_name, policy, allow_duplicate,
        )

    def enrolment_template(self, image: ImageSource, label: str) -> tuple[NewTemplate, bytes]:
        """Read one enrolment image and embed its one face: (template, the image's bytes).

        The typed errors of :meth:`enrol` (unreadable, corrupt, no face, several faces), each
        naming ``label``. Nothing is stored; :meth:`enrol_embedded` enrols the templates.
        """
        data = image if isinstance(image, bytes) else self._read(image)
        return self._single_face(data, label), data

    def enrol_embedded(
        self,
        *,
        actor: str,
        subject_id: str,
        templates: Sequence[NewTemplate],
        basis: str,
        evidence: str,
        expires_at: datetime | None = None,
        display_name: str | None = None,
        kept_images: Sequence[bytes] = (),
        allow_duplicate: bool = False,
    ) -> dict[str, Any]:
        """Enrol ``subject_id`` from templates made by :meth:`enrolment_template` (a bulk
        enrolment checks every image of a subject before enrolling any).

        Same consent rules, policy check, duplicate check, write path and ledger event as
        :meth:`enrol`; ``kept_images`` are stored only when given (``keep_images``).
        """
        consent = self._consent(subject_id, basis, evidence, expires_at)
        if not templates:
            raise InvalidRequestError("enrolment needs at least one image")
        self._check_enrol_event(actor, subject_id, consent, display_name)
        backend_id = self.backend_id
        policy = self._enforce("enrol", actor, backend_id=backend_id)
        return self._commit_enrolment(
            actor, subject_id, consent, backend_id, list(templates), list(kept_images),
            display_name, policy, allow_duplicate,
        )

    def enrol_templates(
        self,
        *,
        actor: str,
        subject_id: str,
        backend_id: str,
        embeddings: np.ndarray,
        basis: str,
        evidence: str,
        detector_scores: Sequence[float] | None = None,
        expires_at: datetime | None = None,
        display_name: str | None = None,
        allow_duplicate: bool = False,
    ) -> dict[str, Any]:
        """Enrol precomputed unit-norm ``embeddings`` of ``backend_id`` (e.g. a migration).

        Same policy check, consent rules, duplicate check, write path and ledger event as
        :meth:`enrol`; no model is loaded.
        """
        consent = self._consent(subject_id, basis, evidence, expires_at)
        vectors = np.atleast_2d(np.asarray(embeddings, dtype=np.float32))
        norms = np.linalg.norm(vectors, axis=1)
        if vectors.size == 0 or not np.all(np.abs(norms - 1) < UNIT_NORM_TOLERANCE):
            raise InvalidRequestError("embeddings must be a non-empty batch of unit-norm rows")
        scores = list(detector_scores) if detector_scores is not None else [None] * len(vectors)
        if len(scores) != len(vectors):
            raise InvalidRequestError("one detector score per embedding, or none")
        self._check_enrol_event(actor, subject_id, consent, display_name)
        policy = self._enforce("enrol", actor, backend_id=backend_id)
        templates = [NewTemplate(v, s) for v, s in zip(vectors, scores, strict=True)]
        return self._commit_enrolment(
            actor, subject_id, consent, backend_id, templates, [], display_name, policy,
            allow_duplicate,
        )

    @staticmethod
    def _consent(
        subject_id: str, basis: str, evidence: str, expires_at: datetime | None
    ) -> Consent:
        check_subject_id(subject_id)
        now = _now()
        basis_text = _text("basis", basis, required=True)
        evidence_text = _text("evidence", evidence, required=True)
        if basis_text is None or evidence_text is None:
            raise ConsentError("consent needs a legal basis and an evidence reference")
        basis, evidence = parse_legal_basis(basis_text), evidence_text
        if expires_at is not None:
            expires_at = _now(expires_at)
            if expires_at <= now:
                raise ConsentError(f"consent expiry {utc_iso(expires_at)} is not in the future")
        return Consent(basis, evidence, now, expires_at)

    @staticmethod
    def _enrol_events(
        actor: str, subject_id: str, consent: Consent, backend_id: str | None,
        n_templates: int, duplicates: list[str], images: Sequence[bytes] = (),
    ) -> Any:
        def events(written: WriteResult) -> list[dict[str, Any]]:
            result = {"subject_id": subject_id, "templates": n_templates,
                      "images_kept": written.images, "evidence": consent.evidence,
                      # what the rows just written hold, so the gallery can be checked against
                      # the record (deployment/gallery_record.py)
                      "template_commitments": [list(t) for t in written.template_commitments],
                      "consent_commitment": written.consent_commitment,
                      # the kept photos a reviewer is shown beside a probe
                      "image_commitments": [image_commitment(subject_id, data)
                                            for data in images]}
            if duplicates:
                result["duplicate_of"] = duplicates
            return [event(actor, "enrol", legal_basis=consent.legal_basis,
                          backend_id=backend_id, result=result)]
        return events

    def _check_enrol_event(
        self, actor: str, subject_id: str, consent: Consent, display_name: str | None
    ) -> None:
        """Validate the enrol event before the policy or the store is touched."""
        if display_name is not None and len(display_name) > 1024:
            raise InvalidRequestError("display name is longer than 1024 characters")
        events = self._enrol_events(actor, subject_id, consent, "x", 1, [])
        check_events(events(WriteResult([], 0, [subject_id], 0)))

    @staticmethod
    def _read(path: Path) -> bytes:
        # the guarded reader and decoder give the typed errors (missing, special file, unreadable,
        # too large, corrupt) naming the path; the bytes read are the bytes checked
        data = api.read_image_file(path)
        api.open_image(data, name=str(path))
        return data

    def _single_face(self, data: bytes, label: str) -> NewTemplate:
        faces, embeddings = api.face_embeddings(api.open_image(data).pixels, self.embedder)
        if not faces:
            raise NoFaceError(f"{label}: no face found")
        if len(faces) > 1:
            raise MultipleFacesError(
                f"{label}: {len(faces)} faces found; an enrolment image must show one person",
                count=len(faces), enrolment=True,
            )
        return NewTemplate(embeddings[0], float(faces[0].score),
                           hashlib.sha256(data).hexdigest())

    def _duplicate_threshold(self, policy: Policy, backend_id: str) -> float | None:
        """The policy's operating threshold for ``backend_id``, or None without a calibration
        for it (a migration of another backend's templates)."""
        calibration = self._calibration
        if calibration is None or calibration.backend_id != backend_id:
            try:
                calibration = api.load_calibration(backend_id=backend_id)
            except CalibrationError:
                return None
        return calibration.threshold_for(policy.fmr_target)

    def _duplicates(
        self, subject_id: str, backend_id: str, vectors: np.ndarray, threshold: float
    ) -> list[str]:
        """Other enrolled subjects any of ``vectors`` matches at ``threshold``."""
        with self._gallery_search(backend_id) as search:
            found = {
                hit.subject_id
                for vector in vectors
                for hit in search.search_subjects(vector, 5, threshold)
                if hit.subject_id != subject_id
            }
        return sorted(found)

    def _commit_enrolment(
        self,
        actor: str,
        subject_id: str,
        consent: Consent,
        backend_id: str,
        templates: list[NewTemplate],
        images: list[bytes],
        display_name: str | None,
        policy: Policy,
        allow_duplicate: bool,
    ) -> dict[str, Any]:
        """The one write path of every enrolment: duplicate check, then store and ledger
        log-first, then the in-memory search."""
        if len(templates) > MAX_ITEMS:
            raise InvalidRequestError(
                f"{len(templates)} templates in one enrolment; at most {MAX_ITEMS} (enrol the "
                "rest in another call)")
        vectors = np.stack([t.embedding for t in templates])
        threshold = self._duplicate_threshold(policy, backend_id)
        duplicates = ([] if threshold is None else
                      self._duplicates(subject_id, backend_id, vectors, threshold))
        if duplicates and not allow_duplicate:
            self._refuse(actor, "enrol", "duplicate-face",
                         f"the face matches enrolled subject(s) {', '.join(duplicates[:10])} "
                         "at the policy's operating point", backend_id=backend_id,
                         extra={"subject_id": subject_id, "matches": duplicates[:100]})
        written, events = self.oplog.run(
            "enrol", actor=actor, backend_id=backend_id,
            write=lambda intent: self.store.enrol(
                subject_id, display_name=display_name, consent=consent, backend_id=backend_id,
                templates=templates, images=images, now=consent.obtained_at, intent=intent,
            ),
            outcome=self._enrol_events(actor, subject_id, consent, backend_id,
                                       len(templates), duplicates[:100], images),
            preview=WriteResult([], 0, [subject_id], len(images)),
        )
        self._after_write(
            written.generation,
            lambda s: s.add(written.template_ids, subject_id, vectors, written.generation),
            backend_id,
        )
        response = {
            "subject_id": subject_id,
            "templates": len(templates),
            "template_ids": written.template_ids,
            "images_kept": written.images,
            "backend_id": backend_id,
            "legal_basis": consent.legal_basis,
            "expires_at": None if consent.expires_at is None else utc_iso(consent.expires_at),
            "ledger_seq": events[-1]["seq"],
            "receipt": self._receipt(events[-1]["seq"]),
        }
        if duplicates:
            response["warnings"] = [
                f"the face matches enrolled subject(s) {', '.join(duplicates[:10])}; "
                "enrolled because duplicates were allowed (recorded in the ledger)"
            ]
        return response

    def _refuse(self, actor: str, operation: str, rule: str, detail: str, *,
                purpose: str | None = None, case: str | None = None,
                backend_id: str | None = None, extra: dict[str, Any] | None = None) -> None:
        """Log a ``refused`` event and raise :class:`PolicyRefusal` (as the policy does)."""
        self.ledger.append(actor, "refused", purpose=purpose, case=case, backend_id=backend_id,
                           result={"rule": rule, "operation": operation, "detail": detail,
                                   **(extra or {})})
        raise PolicyRefusal(rule, operation, detail)

    # -- erasure -----------------------------------------------------------------------------

    def erase(
        self, *, actor: str, subject_id: str, purpose: str | None = None, case: str | None = None
    ) -> dict[str, Any]:
        """Erase a subject: templates, kept images, consent, index entries — bytes and all.

        Also deletes the embedding-cache entries of the subject's enrolment images and the
        review notes of results that named it. Raises :class:`ErasureBlockedError` (nothing
        erased) when a reader holds the database beyond the bound, and
        :class:`ErasureIncompleteError` when one kept the bytes on disk after the deletion —
        never a silent success.
        """
        check_subject_id(subject_id)

        def events(written: WriteResult) -> list[dict[str, Any]]:
            return [event(actor, "erase", purpose=purpose, case=case, result={
                "subject_id": subject_id, "templates": len(written.template_ids),
                "images": written.images})]

        check_events(events(WriteResult([], 0, [subject_id], 0)))
        self._enforce("erase", actor, purpose=purpose, case=case)
        self.searcher.prepare_erasure()
        written, logged = self.oplog.run(
            "erase", actor=actor, purpose=purpose, case=case,
            write=lambda intent: self.store.erase(subject_id, intent=intent, compact=False),
            outcome=events, preview=WriteResult([], 0, [subject_id], 0),
        )
        self._after_write(
            written.generation, lambda s: s.remove(written.template_ids, written.generation),
            erasure=True,
        )
        self._forget_everywhere(written)
        return {"subject_id": subject_id, "templates": len(written.template_ids),
                "images": written.images, "ledger_seq": logged[-1]["seq"]}

    def case_export(self, *, actor: str, case: str) -> dict[str, Any]:
        """The disclosure bundle of ``case`` (:mod:`faceaudit.deployment.case_bundle`): every
        event of the case with its receipt, the stored candidate lists (checked against the
        record first), the audits and policies the searches ran under; the export is logged
        as a ``case_export`` event — included, with its receipt — recording what it holds.
        A case no event names raises :class:`UnknownCaseError` (nothing logged)."""
        case_text = _text("case", case, required=True)
        _text("actor", actor, required=True)
        assert case_text is not None
        self.check_gallery()
        if not case_is_known(self.ledger, case_text):
            raise UnknownCaseError(f"no event in the ledger names case {case_text!r}")
        searches = [e for e in self.ledger.events()
                    if e.get("case") == case_text and e["action"] == "identify"]
        results = {}
        for search in searches:
            result_id = (search.get("result") or {}).get("result_id")
            try:
                stored = self.store.get_result(str(result_id))
            except UnknownResultError:
                continue  # deleted with its search's outputs (an outputs_deleted event says so)
            check_result(self.gallery_record, str(result_id), stored["faces"])
            results[str(result_id)] = {"faces": stored["faces"], "threshold": stored["threshold"],
                                       "fmr_target": stored["fmr_target"],
                                       "backend_id": stored["backend_id"]}
        bundle = build_case_bundle(self.home, self.ledger, self.store, case_text, results)
        logged = self.ledger.append(actor, "case_export", case=case_text, result={
            "events": len(bundle["events"]), "searches": len(searches),
            "digest": bundle_digest([item["event"] for item in bundle["events"]])})
        bundle["events"].append({"event": logged, "receipt": self.ledger.receipt(logged["seq"])})
        return bundle

    def subject_export(self, *, actor: str, subject_id: str, purpose: str | None = None,
                       case: str | None = None) -> dict[str, Any]:
        """Everything held and logged about ``subject_id`` for an access request (GDPR
        Art. 15, :mod:`faceaudit.deployment.subject_export`); the export is itself logged
        (``subject_export``: who, for which request, how much was disclosed)."""
        check_subject_id(subject_id)
        _text("actor", actor, required=True)
        self.check_gallery()
        export = build_subject_export(self.store, self.ledger, subject_id)
        logged = self.ledger.append(actor, "subject_export", purpose=purpose, case=case,
                                    result={"subject_id": subject_id,
                                            "events": len(export["logged"]),
                                            "candidate_in": len(export["held"]["candidate_in"])})
        export["ledger_seq"] = logged["seq"]
        return export

    def _forget_everywhere(self, written: WriteResult) -> None:
        """After an erasure is recorded: its images leave the embedding cache, and the
        database and WAL are compacted (raising :class:`ErasureIncompleteError` if blocked)."""
        if written.image_sha256s:
            from faceaudit.engine.embed_files import forget_cached_images

            forget_cached_images(written.image_sha256s)
        self.store.compact()

    def purge(self, *, actor: str, now: datetime | None = None) -> dict[str, Any]:
        """Erase every subject whose consent has expired (all its consent records, at ``now``).

        Logs one ``purge`` event per 200 erased subject ids (one event when none expired).
        """
        def events(written: WriteResult) -> list[dict[str, Any]]:
            ids = written.subject_ids
            chunks = [ids[i: i + LEDGER_IDS_PER_EVENT]
                      for i in range(0, len(ids), LEDGER_IDS_PER_EVENT)] or [[]]
            return [event(actor, "purge", result={
                "subjects": len(chunk), "subject_ids": chunk,
                "templates": len(written.template_ids), "total_subjects": len(ids)})
                for chunk in chunks]

        self._enforce("purge", actor)
        self.searcher.prepare_erasure()
        written, _ = self.oplog.run(
            "purge", actor=actor,
            write=lambda intent: self.store.purge(_now(now), intent=intent, compact=False),
            outcome=events, preview=WriteResult([], 0, [], 0),
        )
        self._after_write(
            written.generation, lambda s: s.remove(written.template_ids, written.generation),
            erasure=True,
        )
        if written.subject_ids:
            self._forget_everywhere(written)
        return {"subjects": written.subject_ids, "templates": len(written.template_ids),
                "images": written.images}

    # -- search ------------------------------------------------------------------------------

    def _after_write(
        self, generation: int, apply: Callable[[TemplateSearch], None],
        backend_id: str | None = None, *, erasure: bool = False,
    ) -> None:
        """Bring the search and its saved graph in step with a committed write (see
        :meth:`GallerySearcher.after_write`): an erasure's vectors leave the file here."""
        self.searcher.after_write(generation, apply, backend_id, erasure=erasure)

    def _check_gallery_backend(self, backend_id: str) -> None:
        stored = self.store.gallery_backend()
        if stored is not None and stored != backend_id:
            raise BackendMismatchError(
                f"the gallery holds {stored} templates but this deployment runs {backend_id}; "
                "re-enrol the subjects with the deployed backend"
            )

    @contextmanager
    def _gallery_search(self, backend_id: str) -> Iterator[TemplateSearch]:
        """The current search over ``backend_id``'s templates, used under its lock."""
        self._check_gallery_backend(backend_id)
        with self.searcher.session(backend_id) as search:
            yield search

    def identify(
        self, *, actor: str, image: ImageSource, purpose: str | None, case: str | None,
        top: int | None = None, authorisation: Authorisation | None = None,
        offence: str | None = None,
    ) -> dict[str, Any]:
        """Search every face of ``image`` against the gallery: leads for a human to review.

        Candidates score at least the threshold of the policy's ``fmr_target`` (or its adopted
        worst-group one); at most ``top``
        per face (default: the policy's ``max_candidates``; a ``top`` above that cap is refused
        with :class:`InvalidRequestError` naming it); each with the FMR its score corresponds
        to. The probe image and its embeddings are not stored; the result (boxes, candidate
        ids and scores) is, for the review. The policy may require an ``authorisation`` and an
        ``offence`` (:mod:`faceaudit.policy.authorisation`); an urgent one holds the result
        until its authorisation is recorded (:mod:`faceaudit.deployment.search_holds`). The
        ``identify`` event holds what EU AI Act Art. 12(3) asks (:func:`use_record`).
        """
        if top is not None and top < 1:
            raise InvalidRequestError("top must be at least 1")
        started = _now()
        check_events(self._identify_events(actor, purpose, case, None, 0.0)(
            {"result_id": _PREVIEW_ID, "faces": [], "record": use_record(
                started, started, "0" * 64, 0, 0, authorisation, offence, None)}))
        self.sweep_holds(actor)
        backend_id = self.backend_id
        policy, gate = self._enforce_gated("identify", actor, purpose=purpose, case=case,
                                           backend_id=backend_id, authorisation=authorisation,
                                           offence=offence)
        threshold = operating_threshold(policy, gate, self.calibration.threshold_for)
        limit = candidate_limit(top, policy.max_candidates)
        probe = image if isinstance(image, bytes | bytearray | memoryview) \
            else api.read_image_file(Path(image))
        faces, embeddings, qualities = api.face_embeddings_and_quality(bytes(probe),
                                                                       self.embedder)
        if not faces:
            raise NoFaceError(f"probe image {image_label(image)}: no face found")
        flags = self._probe_quality_floor(policy, qualities, actor, purpose=purpose, case=case,
                                          backend_id=backend_id)
        with self._gallery_search(backend_id) as search:
            hits = [search.search_subjects(e, limit, threshold) for e in embeddings]
            gallery_templates = len(search)
        check_subjects(self.store, self.gallery_record,
                       [h.subject_id for face_hits in hits for h in face_hits])
        held_until = urgent_deadline(policy.authorisation, authorisation, started)
        out_faces = [
            {
                "box": face.box.to_dict(),
                "candidates": [
                    {"subject_id": h.subject_id, "score": round(h.score, 6),
                     "fmr": float(f"{self.calibration.fmr_at(h.score):.3g}"), "rank": rank}
                    for rank, h in enumerate(face_hits, start=1)
                ],
                "quality": quality,
                **({"quality_flags": flags[index]} if index in flags else {}),
            }
            for index, (face, face_hits, quality)
            in enumerate(zip(faces, hits, qualities, strict=True))
        ]
        held = utc_iso(held_until) if held_until else None
        result: dict[str, Any] = {
            "result_id": uuid.uuid4().hex,
            "created_at": utc_iso(_now()),
            "actor": actor,
            "purpose": purpose,
            "case": case,
            "backend_id": backend_id,
            "threshold": round(threshold, 6),
            "fmr_target": policy.fmr_target,
            "faces": out_faces,
            "held_until": held,
            "gate": gate,
        }
        result["candidate_commitments"] = face_commitments(result["result_id"], out_faces)
        result["record"] = use_record(
            started, _now(), hashlib.sha256(probe).hexdigest(), len(faces), gallery_templates,
            authorisation, offence, held, self.gallery_record.state_digest())
        crops, crops_expire_at = self._review_crops(bytes(probe), out_faces, policy, started)
        if crops:  # what the reviewers will be shown as the searched faces
            result["crop_commitments"] = {str(face): crop_commitment(result["result_id"], face,
                                                                     data)
                                          for face, data in sorted(crops.items())}
        _, logged = self.oplog.run(
            "identify", actor=actor, purpose=purpose, case=case, backend_id=backend_id,
            write=lambda intent: _saved(self.store.save_result, result, intent,
                                        crops=crops, crops_expire_at=crops_expire_at),
            outcome=self._identify_events(actor, purpose, case, backend_id, threshold),
            preview=result,
        )
        return {
            "result_id": result["result_id"],
            "faces": [] if held_until else out_faces,
            "held_until": result["held_until"],
            "record": result["record"],
            "requires_review": True,
            "threshold": result["threshold"],
            "fmr_target": policy.fmr_target,
            "backend_id": backend_id,
            "receipt": self._receipt(logged[-1]["seq"]),
        }

    def _probe_quality_floor(self, policy: Policy, qualities: list[dict[str, float]],
                             actor: str, *, purpose: str | None, case: str | None,
                             backend_id: str | None) -> dict[int, list[dict[str, Any]]]:
        """Judge the probe against the policy's ``[probe_quality]`` floor: below it, refuse
        (``probe-quality``, logged) or return the flags of each face below it, by face index
        (:mod:`faceaudit.policy.probe_quality`)."""
        floor = policy.probe_quality
        breaches = floor.breaches(qualities)
        if not breaches:
            return {}
        if floor.on_below == "refuse":
            self._refuse(actor, "identify", "probe-quality", breach_detail(breaches),
                         purpose=purpose, case=case, backend_id=backend_id,
                         extra={"breaches": [b.to_dict() for b in breaches[:MAX_ITEMS]]})
        flags: dict[int, list[dict[str, Any]]] = {}
        for breach in breaches:
            flags.setdefault(breach.face, []).append(
                {k: v for k, v in breach.to_dict().items() if k != "face"})
        return flags

    @staticmethod
    def _review_crops(probe: bytes, faces: list[dict[str, Any]], policy: Policy,
                      started: datetime) -> tuple[dict[int, bytes], str | None]:
        """The crops of the faces that have candidates, and until when they are kept — none
        unless the policy keeps probe crops for review (``review.probe_crop_hours``)."""
        hours = policy.review.probe_crop_hours
        wanted = [i for i, face in enumerate(faces) if face["candidates"]]
        if hours <= 0 or not wanted:
            return {}, None
        cut = probe_crops.face_crops(probe, [faces[i]["box"] for i in wanted])
        return dict(zip(wanted, cut, strict=True)), utc_iso(started + timedelta(hours=hours))

    @staticmethod
    def _identify_events(
        actor: str, purpose: str | None, case: str | None, backend_id: str | None,
        threshold: float,
    ) -> Any:
        def events(result: dict[str, Any]) -> list[dict[str, Any]]:
            faces = result["faces"]
            return [event(actor, "identify", purpose=purpose, case=case, backend_id=backend_id,
                          threshold=threshold, result={
                              "result_id": result["result_id"], "faces": len(faces),
                              "candidates": sum(len(f["candidates"]) for f in faces),
                              "use": result["record"], "gate": result.get("gate"),
                              # each face's quality components, rounded (docs/quality.md)
                              # (the first MAX_ITEMS faces: a ledger list's limit)
                              "probe_quality": [f.get("quality") for f in faces[:MAX_ITEMS]],
                              # the faces the policy's probe-quality floor flagged (if any)
                              **_flagged(faces),
                              # what the stored candidate lists hold (gallery_record.py)
                              "candidate_commitments": result.get("candidate_commitments"),
                              "crop_commitments": result.get("crop_commitments")})]
        return events

    def verify(
        self,
        *,
        actor: str,
        image_a: ImageSource,
        image_b: ImageSource | None = None,
        subject_id: str | None = None,
        purpose: str | None = None,
        case: str | None = None,
        face_a: int | None = None,
        face_b: int | None = None,
    ) -> dict[str, Any]:
        """1:1: the face of ``image_a`` against ``image_b`` or an enrolled subject.

        Each image must show one face, or ``face_a`` / ``face_b`` must pick one (index, best
        score first); a group photo without it is refused (``several-faces``, naming the count
        and the field that picks one).

        Against a subject the score is the best over its templates. ``match`` means the score
        reaches the threshold of the policy's ``fmr_target`` (or the worst-group threshold the
        policy adopts, :mod:`faceaudit.policy.worst_group`).
        """
        if (image_b is None) == (subject_id is None):
            raise InvalidRequestError("verify needs exactly one of a second image or a subject")
        if subject_id is not None:
            check_subject_id(subject_id)
        check_events([event(actor, "verify", purpose=purpose, case=case, threshold=0.0,
                            result={"match": False, "subject_id": subject_id})])
        backend_id = self.backend_id
        policy, gate = self._enforce_gated("verify", actor, purpose=purpose, case=case,
                                           backend_id=backend_id)
        threshold = operating_threshold(policy, gate, self.calibration.threshold_for)
        # one face per image, as the library's verify: a group photo is refused (naming the
        # count), never silently reduced to its best-scoring face
        probe = api.face_embedding(image_a, face_a, embedder=self.embedder,
                                   label="first image", pick="face_a")[1]
        if image_b is not None:
            other = api.face_embedding(image_b, face_b, embedder=self.embedder,
                                       label="second image", pick="face_b")[1][None]
        else:
            assert subject_id is not None  # exactly one of image_b and subject_id, checked above
            self._check_gallery_backend(backend_id)
            check_subjects(self.store, self.gallery_record, [subject_id])
            other = self.store.subject_templates(subject_id)
        score = float(np.max(other @ probe))
        match = score >= threshold
        logged = self.ledger.append(
            actor, "verify", purpose=purpose, case=case, backend_id=backend_id,
            threshold=threshold, result={"match": match, "subject_id": subject_id,
                                         "gate": gate},
        )
        return {"score": round(score, 6), "threshold": round(threshold, 6),
                "fmr_target": policy.fmr_target, "match": match, "backend_id": backend_id,
                "subject_id": subject_id, "receipt": self._receipt(logged["seq"])}

    def _receipt(self, seq: int) -> dict[str, Any] | None:
        """The ledger receipt of event ``seq``: its inclusion proof under a signed tree head
        (see docs/ledger.md); None when the ledger cannot make one now — the operation and its
        event stand, and the next operation meets the ledger's problem before it acts."""
        try:
            return self.ledger.receipt(seq)
        except LedgerError:
            return None

    # -- human review ------------------------------------------------------------------------

    @property
    def reviews(self) -> ReviewDesk:
        """The per-candidate review and lead operations (:mod:`faceaudit.deployment.reviews`)."""
        return ReviewDesk(
            self.store, self.ledger, self.oplog,
            lambda operation, actor, purpose, case: self._enforce(
                operation, actor, purpose=purpose, case=case),
            lambda: self.policy, self.gallery_record)

    def pending_reviews(self, *, actor: str) -> list[dict[str, Any]]:
        """The review tasks ``actor`` may still decide, oldest first, with their age (blind
        as the policy says: :func:`faceaudit.deployment.reviews.present`)."""
        _text("actor", actor, required=True)
        self.sweep_holds(actor)
        return self.reviews.pending(actor, _now())

    def review_task(self, *, actor: str, ref: TaskRef) -> dict[str, Any]:
        """One review task as ``actor`` sees it — never another reviewer's decision."""
        _text("actor", actor, required=True)
        self.sweep_holds(actor)
        return self.reviews.show(ref, actor, _now())

    def review_case(self, *, actor: str, ref: TaskRef) -> dict[str, Any]:
        """One review task with its case view: the probe crop and the candidates' enrolment
        images where the policy keeps them, and the case timeline as ``actor`` may see it."""
        _text("actor", actor, required=True)
        self.sweep_holds(actor)
        return self.reviews.case_view(ref, actor, _now())

    def review(
        self,
        *,
        actor: str,
        ref: TaskRef,
        decision: Decision,
        reviewer: str | None = None,
        note: str | None = None,
    ) -> dict[str, Any]:
        """Record ``actor``'s decision (``confirm`` / ``reject``) on one review task: one
        (face, candidate) of a stored result (:meth:`ReviewDesk.decide`).

        The reviewer is the acting user: a ``reviewer`` naming someone else is refused
        (:class:`InvalidRequestError`). Refused and logged: the searcher (``self-review``,
        unless ``allow_self_review``), the same reviewer twice (``same-reviewer``), a task
        already decided by the required number (``review-complete``), a face without
        candidates (``no-candidates``).
        """
        _text("actor", actor, required=True)
        given = _text("reviewer", reviewer, required=False)
        if given is not None and given != actor.strip():
            raise InvalidRequestError(
                f"the reviewer is the acting user ({actor!r}); a review cannot be recorded "
                f"in the name of {given!r}"
            )
        self.sweep_holds(actor)
        return self.reviews.decide(ref, actor=actor, decision=decision, note=note, now=_now())

    def lead_action(self, *, actor: str, ref: TaskRef, kind: str, evidence: str | None,
                    by: str) -> dict[str, Any]:
        """Record an action (arrest, warrant, lineup, …) on a confirmed lead, with the
        independent evidence reference ``by`` attests; refused and logged otherwise."""
        _text("actor", actor, required=True)
        self.sweep_holds(actor)
        return self.reviews.record(ref, actor=actor, step="action", kind=kind,
                                   evidence=evidence, recorded_by=by, now=_now())

    def lead_outcome(self, *, actor: str, ref: TaskRef, outcome: str, by: str
                     ) -> dict[str, Any]:
        """Record how a confirmed lead ended (cleared, charged, no-further-action)."""
        _text("actor", actor, required=True)
        self.sweep_holds(actor)
        return self.reviews.record(ref, actor=actor, step="outcome", kind=outcome,
                                   evidence=None, recorded_by=by, now=_now())

    def get_result(self, result_id: str) -> dict[str, Any]:
        """A stored identification result with its review tasks (every decision: for the
        deployment and its auditors, not a reviewer's eyes); a held
        urgent search's result is refused (:class:`ResultHeldError`) until authorised."""
        self.sweep_holds("faceaudit")
        self.check_gallery()
        stored = self.store.get_result(result_id)
        check_result(self.gallery_record, result_id, stored["faces"])
        check_tasks(self.gallery_record, stored["tasks"])
        if stored["held_until"] is not None:
            raise ResultHeldError(
                f"result {result_id} comes from an urgent search and is held until its "
                f"authorisation is recorded (deadline {stored['held_until']}): "
                "faceaudit authorisation record")
        return stored

    # -- authorisation of urgent searches ------------------------------------------------------

    def record_authorisation(self, *, actor: str, result_id: str, decision: str,
                             authorisation: Authorisation) -> dict[str, Any]:
        """Record the authority's decision on a held urgent search (granted: its result is
        released; refused: its outputs are deleted and the case flagged)."""
        _text("actor", actor, required=True)
        self.sweep_holds(actor)
        return search_holds.record_decision(self.store, self.oplog, actor=actor,
                                            result_id=result_id, decision=decision,
                                            authorisation=authorisation)

    def held_searches(self) -> list[dict[str, Any]]:
        """Urgent searches waiting for their authorisation, oldest deadline first."""
        return self.store.held_results()

    def sweep_holds(self, actor: str, now: datetime | None = None) -> list[str]:
        """Delete the outputs of urgent searches whose deadline passed, and the probe crops
        whose review period ended (:meth:`purge_probe_crops`; while a reader blocks that
        deletion, the next operation retries it); return the deleted results."""
        try:
            self.purge_probe_crops(actor, now)
        except ErasureBlockedError:
            pass  # nothing was deleted: the next operation purges them
        except ErasureIncompleteError:
            pass  # deleted and logged; the next compaction takes the bytes out of the files
        return search_holds.sweep(self.store, self.oplog, actor=actor, now=_now(now))

    def purge_probe_crops(self, actor: str, now: datetime | None = None) -> list[str]:
        """Delete the probe crops whose review period (``review.probe_crop_hours``) ended, with
        a ``purge`` event naming their results; return those result ids."""
        moment = _now(now)
        if not self.store.exists() or not self.store.expired_crops(moment):
            return []

        def events(ids: list[str]) -> list[dict[str, Any]]:
            return [event(actor, "purge", result={
                "probe_crops_of": ids[:LEDGER_IDS_PER_EVENT], "results": len(ids),
                "reason": "review-period-ended"})]

        # housekeeping before the caller's own operation: a short wait for readers, and
        # nothing logged while one blocks the deletion (ErasureBlockedError)
        self.store.require_exclusive(RECOVERY_COMPACT_BOUND_S)
        purged, _ = self.oplog.run(
            "purge", actor=actor,
            write=lambda intent: self.store.purge_probe_crops(
                moment, intent=intent, bound_s=RECOVERY_COMPACT_BOUND_S),
            outcome=events, preview=list[str]())
        return purged

    def list_subjects(self) -> list[dict[str, Any]]:
        """Enrolled subjects with consent records and template counts — never embeddings;
        refused when the gallery disagrees with the record (:meth:`check_gallery`)."""
        self.check_gallery()
        return self.store.list_subjects()


def use_record(started: datetime, ended: datetime, probe_sha256: str, faces: int,
               gallery_templates: int, authorisation: Authorisation | None,
               offence: str | None, held_until: str | None,
               gallery_state: str | None = None) -> dict[str, Any]:
    """What EU AI Act Art. 12(3) asks the log of one search to hold: its period, the
    reference database checked (its size and the digest of its recorded state,
    :meth:`GalleryRecord.state_digest`), the input (the probe's SHA-256 and the faces found),
    the authorisation and offence; the persons who verified are the review events."""
    return {"started_at": utc_iso(started), "ended_at": utc_iso(ended),
            "probe_sha256": probe_sha256, "faces_found": faces,
            "reference_database": {"templates": gallery_templates,
                                   "state_digest": gallery_state},
            "authorisation": authorisation.to_record() if authorisation else None,
            "offence": offence, "held_until": held_until}


def _saved(save: Callable[..., None], result: dict[str, Any], intent: Any,
           **extra: Any) -> dict[str, Any]:
    """Store ``result`` with ``save(result, intent=intent, **extra)`` and hand it back (an
    oplog write)."""
    save(result, intent=intent, **extra)
    return result
