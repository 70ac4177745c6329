"""The gallery as the ledger records it, and the check of the store against it (issue 21,
attack 5): each ``enrol`` event commits to the template and consent rows it wrote
(:mod:`faceaudit.gallery.commitments`), ``erase`` and ``purge`` events remove subjects. Only
events a verified signed head covers count (:meth:`Ledger.check`), read once and then
incrementally. Before an operation relies on gallery rows — the candidates of an identify, the
subject of a verify — those rows are checked (cost: the candidates' rows, never a scan of the
gallery); ``faceaudit ledger verify`` checks every row.
"""

from __future__ import annotations

import hashlib
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from faceaudit.gallery.commitments import (
    candidate_commitment,
    crop_commitment,
    image_commitment,
    recorded_candidates,
)
from faceaudit.gallery.errors import GalleryTamperedError
from faceaudit.gallery.records import RowCensus, SubjectRows
from faceaudit.ledger import Ledger

T = TypeVar("T")


@dataclass
class RecordedSubject:
    """One enrolled subject as the record holds it."""

    templates: dict[int, str] = field(default_factory=dict)
    consents: Counter[str] = field(default_factory=Counter)
    bound: bool = True  # False when an enrol event predates row commitments
    #: the commitments of its kept enrolment images; unchecked (False) when an enrolment kept
    #: images before image commitments were recorded
    images: Counter[str] = field(default_factory=Counter)
    images_bound: bool = True


class GalleryRecord:
    """The enrolled subjects of one deployment as its ledger records them."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self._seen = 0
        self._subjects: dict[str, RecordedSubject] = {}
        #: result id -> its identify event's candidate commitments (None: recorded before
        #: results were bound), review decisions and lead records by task id
        self.results: dict[str, dict[str, list[str]] | None] = {}
        #: result id -> its identify event's probe-crop commitments by face ({} when none was
        #: kept); results recorded before crops were bound are absent
        self.crops: dict[str, dict[str, str]] = {}
        self.decisions: dict[str, Counter[tuple[str, str]]] = {}
        self.leads: dict[str, Counter[tuple[str, str, str]]] = {}
        self._state = 0  # the running multiset hash of every recorded template and consent
        #: recorded template and consent rows of bound subjects, kept per event (never a scan)
        self.template_rows = 0
        self.consent_rows = 0
        self.legacy = False  # an enrolment predates row commitments: its rows cannot be counted
        #: the intents whose enrol / erase / purge outcome the record has applied
        self.applied_intents: set[str] = set()
        self._lock = threading.Lock()

    def state_digest(self) -> str:
        """A digest of the gallery's state as the record holds it — every enrolled template
        and consent record, by their commitments (a sum modulo 2^256 of their SHA-256, so it
        is kept per event, never by a scan) — for the Art. 12(3) record of each search: the
        same recorded state always gives the same digest, any enrolment or erasure changes it."""
        self.current()
        return f"{self._state:064x}"

    def _fold(self, subject: RecordedSubject, sign: int) -> None:
        self.template_rows += sign * len(subject.templates)
        self.consent_rows += sign * subject.consents.total()
        for commitment in [*subject.templates.values(), *subject.consents.elements()]:
            value = int(hashlib.sha256(commitment.encode()).hexdigest(), 16)
            self._state = (self._state + sign * value) % (1 << 256)

    def current(self) -> dict[str, RecordedSubject]:
        """Every recorded subject, after verifying the ledger against its newest signed head."""
        with self._lock:
            self._advance(self.ledger.check())
            return self._subjects

    def _advance(self, size: int) -> None:
        """Apply the events up to ``size`` (under the lock)."""
        if size < self._seen:
            self._seen, self._subjects, self._state = 0, {}, 0
            self.template_rows = self.consent_rows = 0
            self.legacy, self.applied_intents = False, set()
        for event in self.ledger.events_after(self._seen, size):
            self._apply(event)
        self._seen = max(self._seen, size)

    def at_rest(self, read_store: Callable[[], T]) -> tuple[T, dict[str, RecordedSubject],
                                                          dict[str, RecordedSubject | None]]:
        """Read the store while no event can be appended, with the record at that moment:
        ``(what read_store returned, the recorded subjects, the changes pending)``. The
        changes are what the writes committed but not yet appended (``pending``: a
        :class:`RowCensus` or :class:`PendingRows` result carries them) will record — a
        subject's rows after a pending enrolment, None after a pending erasure — so a write in
        flight is never taken for tampering."""
        with self._lock:
            size, read = self.ledger.at_rest(read_store)
            self._advance(size)
            return read, self._subjects, self._pending_changes(getattr(read, "pending", []))

    def _pending_changes(self, pending: list[dict[str, Any]]
                         ) -> dict[str, RecordedSubject | None]:
        changes: dict[str, RecordedSubject | None] = {}
        for event in pending:
            result = event.get("result") if isinstance(event, dict) else None
            if not isinstance(result, dict) or result.get("intent_id") in self.applied_intents:
                continue  # already in the record
            action = event.get("action")
            if action == "enrol" and isinstance(result.get("subject_id"), str):
                committed = result.get("template_commitments")
                consent = result.get("consent_commitment")
                if not isinstance(committed, list) or not isinstance(consent, str):
                    continue
                subject_id = result["subject_id"]
                before = changes.get(subject_id) if subject_id in changes else \
                    self._subjects.get(subject_id)
                after = RecordedSubject(dict(before.templates) if before else {},
                                        Counter(before.consents) if before else Counter())
                after.templates.update({int(tid): str(c) for tid, c in committed})
                after.consents[consent] += 1
                changes[subject_id] = after
            elif action in ("erase", "purge"):
                gone = ([result.get("subject_id")] if action == "erase"
                        else list(result.get("subject_ids") or []))
                changes.update({str(subject_id): None for subject_id in gone})
        return changes

    def census(self, read_store: Callable[[], RowCensus]) -> tuple[RowCensus, int, int] | None:
        """The store's :class:`RowCensus` and the template and consent rows the record accounts
        for at that moment (:meth:`at_rest`): ``(census, templates, consents)``; None when the
        record cannot count (an enrolment from before row commitments)."""
        census, recorded, changes = self.at_rest(read_store)
        if self.legacy:
            return None
        templates, consents = self.template_rows, self.consent_rows
        for subject_id, after in changes.items():
            before = recorded.get(subject_id)
            for subject, sign in ((before, -1), (after, +1)):
                if subject is not None and subject.bound:
                    templates += sign * len(subject.templates)
                    consents += sign * subject.consents.total()
        return census, templates, consents

    def _drop(self, subject_id: str) -> None:
        dropped = self._subjects.pop(subject_id, None)
        if dropped is not None and dropped.bound:
            self._fold(dropped, -1)

    def _apply(self, event: dict[str, Any]) -> None:
        result = event.get("result")
        if not isinstance(result, dict):
            return
        action = event["action"]
        if action in ("enrol", "erase", "purge") and isinstance(result.get("intent_id"), str):
            self.applied_intents.add(result["intent_id"])
        if action == "enrol" and isinstance(result.get("subject_id"), str):
            subject = self._subjects.setdefault(result["subject_id"], RecordedSubject())
            committed = result.get("template_commitments")
            consent = result.get("consent_commitment")
            if not isinstance(committed, list) or not isinstance(consent, str):
                self.legacy = True
                subject.bound = False
                return
            added = RecordedSubject({int(tid): str(c) for tid, c in committed},
                                    Counter([consent]))
            subject.templates.update(added.templates)
            subject.consents[consent] += 1
            images = result.get("image_commitments")
            if isinstance(images, list):
                subject.images.update(str(c) for c in images)
            elif result.get("images_kept"):
                subject.images_bound = False
            self._fold(added, +1)
        elif action == "erase" and isinstance(result.get("subject_id"), str):
            self._drop(result["subject_id"])
        elif action == "purge" and isinstance(result.get("subject_ids"), list):
            for subject_id in result["subject_ids"]:
                self._drop(str(subject_id))
        elif action == "identify" and isinstance(result.get("result_id"), str):
            committed = result.get("candidate_commitments")
            self.results[result["result_id"]] = committed if isinstance(committed, dict) else None
            if "crop_commitments" in result:
                crops = result["crop_commitments"]
                self.crops[result["result_id"]] = (
                    {str(k): str(v) for k, v in crops.items()} if isinstance(crops, dict) else {})
        elif action == "review" and isinstance(result.get("task_id"), str):
            self.decisions.setdefault(result["task_id"], Counter())[
                (str(result.get("reviewer")), str(result.get("decision")))] += 1
        elif action == "lead" and isinstance(result.get("task_id"), str):
            self.leads.setdefault(result["task_id"], Counter())[
                (str(result.get("step")), str(result.get("kind")),
                 str(result.get("recorded_by")))] += 1


def row_problems(rows: SubjectRows, recorded: RecordedSubject | None) -> list[tuple[str, str, str]]:
    """Every way the stored rows of one subject disagree with the record, as
    ``(table, row, why)``; empty when they agree."""
    subject = rows.subject_id
    if recorded is None:
        if rows.templates or rows.consents:
            return [("subjects", f"subject_id={subject}",
                     "no enrol event in the ledger enrolled this subject (a ghost)")]
        return []
    if not recorded.bound:
        return [("subjects", f"subject_id={subject}",
                 "enrolled before gallery rows were bound to the record; erase and re-enrol")]
    problems = []
    stored = dict(rows.templates)
    for tid, commitment in stored.items():
        expected = recorded.templates.get(tid)
        if expected is None:
            problems.append(("templates", f"template_id={tid}",
                             f"not written by any enrolment of {subject} the ledger records"))
        elif expected != commitment:
            problems.append(("templates", f"template_id={tid}",
                             f"differs from what {subject}'s enrol event committed to "
                             "(embedding, subject or backend changed)"))
    for tid in sorted(set(recorded.templates) - set(stored)):
        problems.append(("templates", f"template_id={tid}",
                         f"{subject}'s template is gone without an erase or purge event"))
    if Counter(rows.consents) != recorded.consents:
        problems.append(("consents", f"subject_id={subject}",
                         "the consent records differ from those the enrol events committed to "
                         "(basis, evidence or expiry changed, or a record added or deleted)"))
    return problems


def check_subjects(store: Any, record: GalleryRecord, subject_ids: list[str]) -> None:
    """Refuse (:class:`GalleryTamperedError`) unless the stored rows of ``subject_ids`` agree
    with the record: what an operation checks before relying on them."""
    if not subject_ids:
        return
    recorded = record.current()
    for rows in store.subject_rows(sorted(set(subject_ids))):
        problems = row_problems(rows, recorded.get(rows.subject_id))
        if problems:
            table, row, why = problems[0]
            raise GalleryTamperedError(
                f"gallery table {table}, row {row}: {why}; the gallery no longer agrees with "
                "the ledger — restore it from a backup that does (docs/gallery.md)",
                table=table, row=row)


def census_problem(store: Any, record: GalleryRecord) -> tuple[str, str] | None:
    """Why the store's count of template or consent rows is not the record's, as ``(table,
    why)``, or None (:meth:`GalleryRecord.census`: the store read while no event can be
    appended, so a write in flight is never taken for tampering). A deleted, inserted or
    duplicated row of any subject — not only of the subjects an operation touches — changes
    a count. Homes with enrolments from before row commitments cannot be counted (None;
    ``ledger verify`` reports those subjects)."""
    counted = record.census(store.row_census)
    if counted is None:
        return None
    census, templates, consents = counted
    if (census.templates, census.consents) == (templates, consents):
        return None
    table, stored, expected = (("templates", census.templates, templates)
                               if census.templates != templates
                               else ("consents", census.consents, consents))
    how = "deleted" if stored < expected else "inserted"
    return table, (f"gallery table {table}: {stored} rows where the ledger's enrol, erase and "
                   f"purge events account for {expected} — rows {how} without an event")


def check_census(store: Any, record: GalleryRecord) -> None:
    """Refuse (:class:`GalleryTamperedError`) when :func:`census_problem` finds one: what
    every operation of a deployment checks before it runs."""
    problem = census_problem(store, record)
    if problem is not None:
        table, why = problem
        raise GalleryTamperedError(
            f"{why}; the gallery no longer agrees with the ledger — restore it from a "
            "backup that does (docs/gallery.md), and `faceaudit ledger verify` names the rows",
            table=table, row="count")


def subject_problems(store: Any, record: GalleryRecord, *, unbound: bool = True,
                     ) -> list[tuple[str, str, str]]:
    """Every subject, template and consent row that disagrees with the record, as ``(table,
    row, why)``, and every recorded subject whose rows are gone: a read of every subject's rows
    (once per deployment process, and ``ledger verify``). ``unbound=False`` leaves out the
    subjects enrolled before row commitments (refused only when an operation relies on them,
    so that they can still be erased)."""
    read, in_record, changes = record.at_rest(store.every_subject_rows)
    recorded = {**in_record, **changes}
    problems = []
    seen = set()
    for rows in read.subjects:
        seen.add(rows.subject_id)
        subject = recorded.get(rows.subject_id)
        if unbound or subject is None or subject.bound:
            problems += row_problems(rows, subject)
    for subject_id in sorted(set(recorded) - seen):
        gone = recorded[subject_id]
        if gone is not None and (gone.templates or gone.consents):
            problems.append(("subjects", f"subject_id={subject_id}",
                             "enrolled in the ledger but gone from the store without an erase "
                             "or purge event"))
    return problems


def check_every_subject(store: Any, record: GalleryRecord) -> None:
    """Refuse (:class:`GalleryTamperedError`) unless every subject's rows agree with the
    record (:func:`subject_problems`): what a deployment checks once, on its first operation,
    so an edit of a row no later operation touches is still caught."""
    problems = subject_problems(store, record, unbound=False)
    if problems:
        table, row, why = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise GalleryTamperedError(
            f"gallery table {table}, row {row}: {why}{more}; the gallery no longer agrees with "
            "the ledger — restore it from a backup that does (docs/gallery.md)",
            table=table, row=row)


def gallery_problems(store: Any, record: GalleryRecord) -> list[str]:
    """Every row of the whole gallery that disagrees with the record, one line each
    (``ledger verify``): subjects, templates and consents; recorded subjects whose rows are
    gone; stored searches, their review decisions and lead records."""
    lines = [f"gallery table {t}, row {r}: {why}" for t, r, why in subject_problems(store, record)]
    for result_id in store.result_ids():
        try:
            stored = store.get_result(result_id)
            check_result(record, result_id, stored["faces"])
            check_tasks(record, stored["tasks"])
        except GalleryTamperedError as exc:
            lines.append(str(exc).split("; the stored searches")[0])
    return lines


def _tampered(table: str, row: str, why: str) -> GalleryTamperedError:
    return GalleryTamperedError(
        f"gallery table {table}, row {row}: {why}; the stored searches no longer agree with "
        "the ledger — restore the gallery from a backup that does (docs/gallery.md)",
        table=table, row=row)


def check_result(record: GalleryRecord, result_id: str, faces: list[dict[str, Any]]) -> None:
    """Refuse (:class:`GalleryTamperedError`) a stored result whose candidate lists are not
    what its identify event committed to: a result no identify event made, a face or
    candidate added, dropped, swapped or re-ranked. A candidate an erasure scrubbed (no
    subject id) is accepted; results recorded before this binding are not checked."""
    record.current()
    if result_id not in record.results:
        raise _tampered("results", f"result_id={result_id}",
                        "no identify event in the ledger made this result")
    committed = record.results[result_id]
    if committed is None:
        return
    for index, face in enumerate(faces):
        expected_list = recorded_candidates(committed.get(str(index)))
        candidates = face.get("candidates", [])
        if len(candidates) != len(expected_list):
            raise _tampered("results", f"result_id={result_id}",
                            f"face {index} holds {len(candidates)} candidates; its identify "
                            f"event recorded {len(expected_list)}")
        for position, candidate in enumerate(candidates):
            if candidate.get("subject_id") is None:
                continue  # scrubbed by an erasure
            if candidate.get("rank") != position + 1 or candidate_commitment(
                    result_id, index, position + 1, candidate["subject_id"],
                    candidate.get("score", 0.0)) != expected_list[position]:
                raise _tampered("results", f"result_id={result_id}",
                                f"candidate {position + 1} of face {index} is not the one its "
                                "identify event recorded")
    if {str(i) for i, f in enumerate(faces) if f.get("candidates")} != set(committed):
        raise _tampered("results", f"result_id={result_id}",
                        "its faces are not those its identify event recorded")


def check_shown_images(record: GalleryRecord, result_id: str, face: int, crop: bytes | None,
                       references: dict[str, bytes | None]) -> None:
    """Refuse (:class:`GalleryTamperedError`) the pictures a reviewer's case view would show
    unless they are those the record committed to: the probe crop of ``face`` (the identify
    event's ``crop_commitments``) and each candidate's reference photo (``references``: subject
    id -> its first kept enrolment image, the enrol events' ``image_commitments``). A swapped
    picture would have the reviewer confirm a face that was never searched for, or compare
    the probe with someone else's photo. Pictures recorded before this binding are not
    checked."""
    subjects = record.current()
    committed = record.crops.get(result_id)
    if crop is not None and committed is not None and \
            committed.get(str(face)) != crop_commitment(result_id, face, crop):
        raise _tampered("probe_crops", f"result_id={result_id}, face={face}",
                        "the kept probe crop is not the one its identify event recorded")
    for subject_id, image in references.items():
        subject = subjects.get(subject_id)
        if image is None or subject is None or not subject.images_bound:
            continue
        if image_commitment(subject_id, image) not in subject.images:
            raise _tampered("images", f"subject_id={subject_id}",
                            "the kept enrolment image is not one its enrol events recorded")


def check_tasks(record: GalleryRecord, tasks: list[dict[str, Any]]) -> None:
    """Refuse review tasks whose candidate, decisions or lead records disagree with the
    record: a decision or an action no review or lead event recorded (a forged confirmation
    makes a lead), or one removed."""
    record.current()
    for task in tasks:
        if task["result_id"] in record.results and record.results[task["result_id"]]:
            candidate = task["candidate"]
            expected = recorded_candidates(
                (record.results[task["result_id"]] or {}).get(str(task["face"])))
            rank = candidate.get("rank")
            if candidate.get("subject_id") is not None and (
                    not isinstance(rank, int) or not 1 <= rank <= len(expected)
                    or candidate_commitment(task["result_id"], task["face"], rank,
                                            candidate["subject_id"], candidate.get("score", 0.0))
                    != expected[rank - 1]):
                raise _tampered("review_tasks", f"task_id={task['task_id']}",
                                "its candidate is not one its search's identify event recorded")
        decided = Counter((d["reviewer"], d["decision"]) for d in task["decisions"])
        if decided != record.decisions.get(task["task_id"], Counter()):
            raise _tampered("review_decisions", f"task_id={task['task_id']}",
                            "its decisions are not those the review events recorded")
        led = Counter((r["step"], r["kind"], r["recorded_by"]) for r in task["lead_records"])
        if led != record.leads.get(task["task_id"], Counter()):
            raise _tampered("lead_records", f"task_id={task['task_id']}",
                            "its actions and outcomes are not those the lead events recorded")
