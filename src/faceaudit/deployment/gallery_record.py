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
from dataclasses import dataclass, field
from typing import Any

from faceaudit.gallery.commitments import candidate_commitment, recorded_candidates
from faceaudit.gallery.errors import GalleryTamperedError
from faceaudit.gallery.records import SubjectRows
from faceaudit.ledger import Ledger


@dataclass
class RecordedSubject:
    """One enrolled subject as the record holds it."""

    templates: dict[int, str] = field(default_factory=dict)
    consents: Counter[str] = field(default_factory=Counter)
    bound: bool = True  # False when an enrol event predates row commitments


class GalleryRecord:
    """The enrolled subjects of one deployment as its ledger records them."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self._seen = 0
        self._subjects: dict[str, RecordedSubject] = {}
        #: result id -> its identify event's candidate commitments (None: recorded before
        #: results were bound), review decisions and lead records by task id
        self.results: dict[str, dict[str, list[str]] | None] = {}
        self.decisions: dict[str, Counter[tuple[str, str]]] = {}
        self.leads: dict[str, Counter[tuple[str, str, str]]] = {}
        self._state = 0  # the running multiset hash of every recorded template and consent
        self._lock = threading.Lock()

    def state_digest(self) -> str:
        """A digest of the gallery's state as the record holds it — every enrolled template
        and consent record, by their commitments (a sum modulo 2^256 of their SHA-256, so it
        is kept per event, never by a scan) — for the Art. 12(3) record of each search: the
        same recorded state always gives the same digest, any enrolment or erasure changes it."""
        self.current()
        return f"{self._state:064x}"

    def _fold(self, subject: RecordedSubject, sign: int) -> None:
        for commitment in [*subject.templates.values(), *subject.consents.elements()]:
            value = int(hashlib.sha256(commitment.encode()).hexdigest(), 16)
            self._state = (self._state + sign * value) % (1 << 256)

    def current(self) -> dict[str, RecordedSubject]:
        """Every recorded subject, after verifying the ledger against its newest signed head."""
        with self._lock:
            size = self.ledger.check()
            if size < self._seen:
                self._seen, self._subjects = 0, {}
            for event in self.ledger.events_after(self._seen, size):
                self._apply(event)
            self._seen = max(self._seen, size)
            return self._subjects

    def _drop(self, subject_id: str) -> None:
        dropped = self._subjects.pop(subject_id, None)
        if dropped is not None and dropped.bound:
            self._fold(dropped, -1)

    def _apply(self, event: dict[str, Any]) -> None:
        result = event.get("result")
        if not isinstance(result, dict):
            return
        action = event["action"]
        if action == "enrol" and isinstance(result.get("subject_id"), str):
            subject = self._subjects.setdefault(result["subject_id"], RecordedSubject())
            committed = result.get("template_commitments")
            consent = result.get("consent_commitment")
            if not isinstance(committed, list) or not isinstance(consent, str):
                subject.bound = False
                return
            added = RecordedSubject({int(tid): str(c) for tid, c in committed},
                                    Counter([consent]))
            subject.templates.update(added.templates)
            subject.consents[consent] += 1
            self._fold(added, +1)
        elif action == "erase" and isinstance(result.get("subject_id"), str):
            self._drop(result["subject_id"])
        elif action == "purge" and isinstance(result.get("subject_ids"), list):
            for subject_id in result["subject_ids"]:
                self._drop(str(subject_id))
        elif action == "identify" and isinstance(result.get("result_id"), str):
            committed = result.get("candidate_commitments")
            self.results[result["result_id"]] = committed if isinstance(committed, dict) else None
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


def gallery_problems(store: Any, record: GalleryRecord) -> list[str]:
    """Every row of the whole gallery that disagrees with the record, one line each
    (``ledger verify``): subjects, templates and consents; recorded subjects whose rows are
    gone; stored searches, their review decisions and lead records."""
    recorded = record.current()
    lines = []
    seen = set()
    for rows in store.every_subject_rows():
        seen.add(rows.subject_id)
        lines += [f"gallery table {t}, row {r}: {why}"
                  for t, r, why in row_problems(rows, recorded.get(rows.subject_id))]
    for subject_id in sorted(set(recorded) - seen):
        if recorded[subject_id].templates or recorded[subject_id].consents:
            lines.append(f"gallery table subjects, row subject_id={subject_id}: enrolled in the "
                         "ledger but gone from the store without an erase or purge event")
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
