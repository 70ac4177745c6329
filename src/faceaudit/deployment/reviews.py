"""How a search becomes a decision: per-candidate review by independent reviewers, then what
was done with a confirmed lead.

Every (face, candidate) of a stored result is a review task
(:mod:`faceaudit.gallery.review_tasks`). Each reviewer decides a task alone: never the searcher
(unless the policy's ``allow_self_review``), never twice, and never seeing another reviewer's
decision; when the policy's ``review.blind`` holds, without the score or the rank either, the
face's candidates shown in an order of their own for each reviewer. A candidate is a *confirmed
lead* once ``review.required_reviewers`` confirmed it; one rejection leaves it unconfirmed (the
disagreement is recorded). A confirmed lead can be *actioned* (arrest, warrant, lineup, …) only
with an independent evidence reference attested by a named person, and then given its outcome.

Each refusal is logged (a ``refused`` event) and raised as a typed error
(:class:`~faceaudit.policy.errors.ReviewRefusal`, :class:`~faceaudit.policy.errors.LeadRefusal`)
before anything is recorded. Computing (:func:`pending_for`, :func:`present`) is apart from the
operations that write.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from faceaudit.deployment.gallery_record import (
    GalleryRecord,
    check_result,
    check_shown_images,
    check_tasks,
)
from faceaudit.deployment.oplog import OperationLog, check_events, event
from faceaudit.gallery.errors import InvalidRequestError, ResultHeldError
from faceaudit.gallery.review_tasks import lead_state
from faceaudit.gallery.store import GalleryStore
from faceaudit.ledger import Ledger, LedgerError
from faceaudit.policy import Policy
from faceaudit.policy.errors import LeadRefusal, PolicyRefusal, ReviewRefusal

Decision = Literal["confirm", "reject"]
DECISIONS = ("confirm", "reject")
#: what may be done on a confirmed lead (with an independent evidence reference)
LEAD_ACTIONS = ("arrest", "warrant", "lineup", "search", "interview", "surveillance", "other")
#: how a lead ends; ``charged`` only after an action on independent evidence
LEAD_OUTCOMES = ("cleared", "charged", "no-further-action")
MAX_TEXT = 500


@dataclass(frozen=True)
class TaskRef:
    """Which task a request names: its id, or (result, face index, candidate subject)."""

    task_id: str | None = None
    result_id: str | None = None
    face: int | None = None
    subject_id: str | None = None


# -- computing: what a reviewer may see -----------------------------------------------------


def _order_key(reviewer: str, task_id: str) -> str:
    """A reviewer's own, stable order of candidates (a blind photo array)."""
    return hashlib.sha256(f"{reviewer}\x00{task_id}".encode()).hexdigest()


def _own_decision(task: dict[str, Any], reviewer: str) -> str | None:
    return next((d["decision"] for d in task["decisions"] if d["reviewer"] == reviewer), None)


def _age_s(task: dict[str, Any], now: datetime) -> float:
    return round((now - datetime.fromisoformat(task["created_at"])).total_seconds(), 3)


def pending_for(tasks: list[dict[str, Any]], reviewer: str, policy: Policy,
                now: datetime) -> list[dict[str, Any]]:
    """The tasks ``reviewer`` may still decide, oldest search first (a search's tasks in the
    reviewer's own order), each as :func:`present` shows it. A task leaves every list once
    the required number of reviewers decided it, whatever they decided."""
    required = policy.review.required_reviewers
    open_tasks = [t for t in tasks
                  if (t["searcher"] != reviewer or policy.allow_self_review)
                  and _own_decision(t, reviewer) is None and len(t["decisions"]) < required]
    open_tasks.sort(key=lambda t: (t["created_at"], t["result_id"],
                                   _order_key(reviewer, t["task_id"])))
    return [present(t, [t], reviewer, policy, now) for t in open_tasks]


def present(task: dict[str, Any], face_tasks: list[dict[str, Any]], reviewer: str,
            policy: Policy, now: datetime, probe: dict[str, Any] | None = None,
            ) -> dict[str, Any]:
    """One task as ``reviewer`` sees it: the case, the candidate, the face's candidates as a
    photo array and the reviewer's own decision — never another reviewer's; when blind, no
    score, no rank, the array in the reviewer's own order. ``probe`` is the searched face as
    the result stores it: its image quality (``probe_quality``) and the policy's
    probe-quality floor flags (``quality_flags``: a poor probe is why a candidate may look
    alike) are shown to every reviewer, blind or not — they say nothing of the candidates."""
    blind = policy.review.blind

    def candidate(t: dict[str, Any]) -> dict[str, Any]:
        stored = t["candidate"]
        shown = {"task_id": t["task_id"], "subject_id": stored.get("subject_id"),
                 "erased": bool(stored.get("erased"))}
        if not blind:
            shown.update(score=stored.get("score"), fmr=stored.get("fmr"),
                         rank=stored.get("rank"))
        return shown

    if blind:
        array = sorted(face_tasks, key=lambda t: _order_key(reviewer, t["task_id"]))
    else:
        array = sorted(face_tasks, key=lambda t: t["candidate"].get("rank") or 0)
    return {"task_id": task["task_id"], "result_id": task["result_id"], "face": task["face"],
            "case": task["case"], "purpose": task["purpose"], "created_at": task["created_at"],
            "age_s": _age_s(task, now), "blind": blind,
            "required_reviewers": policy.review.required_reviewers,
            "candidate": candidate(task), "array": [candidate(t) for t in array],
            "probe_quality": (probe or {}).get("quality"),
            "quality_flags": list((probe or {}).get("quality_flags", [])),
            "your_decision": _own_decision(task, reviewer)}


def case_timeline(events: list[dict[str, Any]], case: str | None, reviewer: str
                  ) -> list[dict[str, str]]:
    """The case's timeline as ``reviewer`` may see it (oldest first): its searches,
    authorisations and deletions, and the reviewer's own decisions — never another reviewer's
    decision, nor what was done with a lead (which would tell that it was confirmed)."""
    out = []
    for logged in events:
        if logged["case"] != case:
            continue
        action, result = logged["action"], logged["result"] or {}
        if action == "identify":
            what = (f"search by {logged['actor']}: {result.get('faces', 0)} face(s), "
                    f"{result.get('candidates', 0)} candidate(s)")
        elif action == "authorisation":
            what = f"authorisation {result.get('decision')}"
        elif action == "outputs_deleted":
            what = f"search outputs deleted ({result.get('reason')})"
        elif action == "review" and logged["actor"] == reviewer and "task_id" in result:
            what = f"you decided a candidate of face {result.get('face')}: {result.get('decision')}"
        else:
            continue
        out.append({"time": logged["time"], "what": what})
    return out


# -- the operations -------------------------------------------------------------------------


@dataclass
class ReviewDesk:
    """The review and lead operations of one deployment, over its store, ledger and log
    (:class:`~faceaudit.deployment.operations.Deployment` hands them in). ``enforce(operation,
    actor, purpose, case)`` asks the policy (logging its refusals) and returns it."""

    store: GalleryStore
    ledger: Ledger
    oplog: OperationLog
    enforce: Callable[[str, str, str | None, str | None], Policy]
    policy: Callable[[], Policy]
    gallery_record: GalleryRecord

    # -- reading, checked against the record -------------------------------------------------

    def _result(self, result_id: str) -> dict[str, Any]:
        """A stored result with its tasks, refused when its candidates, decisions or lead
        records disagree with the ledger (:mod:`faceaudit.deployment.gallery_record`)."""
        result = self.store.get_result(result_id)
        check_result(self.gallery_record, result_id, result["faces"])
        check_tasks(self.gallery_record, result["tasks"])
        return result

    def _task(self, task_id: str) -> dict[str, Any]:
        """One stored task, checked as :meth:`_result` checks."""
        task = self.store.get_task(task_id)
        check_tasks(self.gallery_record, [task])
        return task

    def _all_tasks(self) -> list[dict[str, Any]]:
        """Every stored task, checked as :meth:`_result` checks."""
        tasks = self.store.review_tasks()
        check_tasks(self.gallery_record, tasks)
        return tasks

    # -- finding a task ---------------------------------------------------------------------

    def _refuse(self, error: PolicyRefusal, actor: str, task: dict[str, Any] | None,
                **extra: Any) -> None:
        """Log ``error`` as a ``refused`` event and raise it."""
        where = task or {}
        self.ledger.append(actor, "refused", purpose=where.get("purpose"),
                           case=where.get("case"),
                           result={"rule": error.rule, "operation": error.operation,
                                   "detail": error.detail, **extra})
        raise error

    def _unheld(self, result: dict[str, Any]) -> dict[str, Any]:
        if result["held_until"] is not None:
            raise ResultHeldError(
                f"result {result['result_id']} comes from an urgent search and is held until "
                f"its authorisation is recorded (deadline {result['held_until']})")
        return result

    def find(self, ref: TaskRef, actor: str, refusal: Callable[[str, str], PolicyRefusal]
             ) -> dict[str, Any]:
        """The task ``ref`` names. A face without candidates has no task: naming one is refused
        (``no-candidates``), as is a subject that is not one of the face's candidates
        (``not-a-candidate``); both logged. Unknown ids: 404 errors; held results: refused."""
        if ref.task_id is not None:
            task = self._task(ref.task_id)
            self._unheld(self._result(task["result_id"]))
            return task
        if ref.result_id is None or ref.face is None or ref.subject_id is None:
            raise InvalidRequestError("name a review task by its id, or by result, face and "
                                      "candidate")
        result = self._unheld(self._result(ref.result_id))
        if not 0 <= ref.face < len(result["faces"]):
            raise InvalidRequestError(f"result {ref.result_id} has faces 0 to "
                                      f"{len(result['faces']) - 1}, not {ref.face}", which="face")
        where = {"purpose": result["purpose"], "case": result["case"]}
        ids = {"result_id": ref.result_id, "face": ref.face}
        tasks = [t for t in result["tasks"] if t["face"] == ref.face]
        if not tasks:
            self._refuse(refusal("no-candidates",
                                 f"face {ref.face} of result {ref.result_id} has no candidates: "
                                 "there is nothing to confirm or act on"), actor, where, **ids)
        found = [t for t in tasks if t["candidate"].get("subject_id") == ref.subject_id]
        if not found:
            self._refuse(refusal("not-a-candidate",
                                 f"{ref.subject_id} is not a candidate of face {ref.face} of "
                                 f"result {ref.result_id}"), actor, where, **ids)
        return found[0]

    # -- reviewing --------------------------------------------------------------------------

    def pending(self, reviewer: str, now: datetime) -> list[dict[str, Any]]:
        """The tasks ``reviewer`` may still decide, oldest first, with their age."""
        return pending_for(self._all_tasks(), reviewer, self.policy(), now)

    def show(self, ref: TaskRef, reviewer: str, now: datetime) -> dict[str, Any]:
        """One task as ``reviewer`` sees it (:func:`present`)."""
        task = self.find(ref, reviewer, ReviewRefusal)
        return self._present(task, reviewer, now)

    def case_view(self, ref: TaskRef, reviewer: str, now: datetime) -> dict[str, Any]:
        """What a reviewer's case view shows: the task as :meth:`show` does, the kept probe
        crop of its face (``probe_crop``: JPEG bytes or None), each candidate's first kept
        enrolment image (``references``: by task id, bytes or None), and the case's timeline
        as the reviewer may see it."""
        shown = self.show(ref, reviewer, now)
        shown["probe_crop"] = self.store.probe_crop(shown["result_id"], shown["face"])
        images = {c["subject_id"]: self.store.subject_image(c["subject_id"])
                  for c in shown["array"] if c["subject_id"]}
        # what the reviewer is shown is what the record committed to (gallery_record.py)
        check_shown_images(self.gallery_record, shown["result_id"], shown["face"],
                           shown["probe_crop"], images)
        shown["references"] = {
            c["task_id"]: images[c["subject_id"]] if c["subject_id"] else None
            for c in shown["array"]}
        shown["timeline"] = case_timeline(list(self.ledger.events()), shown["case"], reviewer)
        return shown

    def _present(self, task: dict[str, Any], reviewer: str, now: datetime) -> dict[str, Any]:
        result = self._result(task["result_id"])
        face_tasks = [t for t in result["tasks"] if t["face"] == task["face"]]
        faces = result["faces"]
        probe = faces[task["face"]] if 0 <= task["face"] < len(faces) else None
        return present(task, face_tasks, reviewer, self.policy(), now, probe)

    def decide(self, ref: TaskRef, *, actor: str, decision: str, note: str | None,
               now: datetime) -> dict[str, Any]:
        """Record ``actor``'s decision on one task; return the task as ``actor`` sees it.

        Refused and logged: the searcher (``self-review``, unless the policy allows it), a
        second decision by the same reviewer (``same-reviewer``), a task the required number
        of reviewers already decided (``review-complete``), a face without candidates
        (``no-candidates``)."""
        if decision not in DECISIONS:
            raise InvalidRequestError(f"decision must be confirm or reject, not {decision!r}")
        if note is not None and len(note) > 2000:
            raise InvalidRequestError("a note holds at most 2000 characters", which="note")
        task = self.find(ref, actor, ReviewRefusal)
        check_events(self._review_events(actor, task)(task))
        policy = self.enforce("review", actor, task["purpose"], task["case"])
        ids = {"result_id": task["result_id"], "task_id": task["task_id"]}
        if task["searcher"] == actor and not policy.allow_self_review:
            self._refuse(ReviewRefusal("self-review", f"{actor} ran this search; another "
                                       "person must review it"), actor, task, **ids)
        if _own_decision(task, actor) is not None:
            self._refuse(ReviewRefusal("same-reviewer", f"{actor} already decided this task; "
                                       "each reviewer decides a candidate once"),
                         actor, task, **ids)
        if len(task["decisions"]) >= policy.review.required_reviewers:
            self._refuse(ReviewRefusal("review-complete", "this task has all the reviewers "
                                       "the policy requires"), actor, task, **ids)
        decided, logged = self.oplog.run(
            "review", actor=actor, purpose=task["purpose"], case=task["case"],
            backend_id=task["backend_id"],
            write=lambda intent: self.store.add_decision(
                task["task_id"], decision=decision, reviewer=actor, actor=actor, note=note,
                now=now, intent=intent, limit=policy.review.required_reviewers),
            outcome=self._review_events(actor, task), preview=task,
        )
        shown = self._present(decided, actor, now)
        shown["ledger_seq"] = logged[-1]["seq"]
        shown["receipt"] = self._receipt(logged[-1]["seq"])
        return shown

    def _receipt(self, seq: int) -> dict[str, Any] | None:
        """The ledger receipt of event ``seq`` (the reviewer's proof that the verification is
        in the log, Art. 12(3)); None when the ledger cannot make one now."""
        try:
            return self.ledger.receipt(seq)
        except LedgerError:
            return None

    def _review_events(self, actor: str, task: dict[str, Any]
                       ) -> Callable[[dict[str, Any]], list[dict[str, Any]]]:
        required = self.policy().review.required_reviewers

        def events(decided: dict[str, Any]) -> list[dict[str, Any]]:
            own = next((d for d in decided["decisions"] if d["reviewer"] == actor),
                       {"decision": "confirm"})
            state = lead_state(decided["decisions"], required)
            return [event(actor, "review", purpose=task["purpose"], case=task["case"],
                          backend_id=task["backend_id"], result={
                              "result_id": task["result_id"], "task_id": task["task_id"],
                              "face": task["face"], "decision": own["decision"],
                              "reviewer": actor, "lead": state["state"],
                              "confirms": state["confirms"], "rejects": state["rejects"],
                              "disagreement": state["disagreement"],
                              "required": required})]
        return events

    # -- leads ------------------------------------------------------------------------------

    def state_of(self, task: dict[str, Any]) -> dict[str, Any]:
        """The task's state under the policy in force
        (:func:`~faceaudit.gallery.review_tasks.lead_state`), moved on by its lead records
        (``actioned``, ``outcome``)."""
        state = lead_state(task["decisions"], self.policy().review.required_reviewers)
        steps = [r["step"] for r in task["lead_records"]]
        if "outcome" in steps:
            state["state"] = "outcome"
        elif "action" in steps:
            state["state"] = "actioned"
        return state

    def record(self, ref: TaskRef, *, actor: str, step: str, kind: str,
               evidence: str | None, recorded_by: str, now: datetime) -> dict[str, Any]:
        """Record an action (``step`` ``action``: :data:`LEAD_ACTIONS`, with an independent
        ``evidence`` reference) or an outcome (``outcome``: :data:`LEAD_OUTCOMES`) on a lead,
        attested by ``recorded_by``. Refused and logged unless the lead is confirmed
        (``lead-not-confirmed``), without evidence for an action (``no-evidence``), and a
        ``charged`` outcome without an action first (``lead-not-actioned``)."""
        allowed = LEAD_ACTIONS if step == "action" else LEAD_OUTCOMES
        if kind not in allowed:
            raise InvalidRequestError(f"{step} must be one of {', '.join(allowed)}, not "
                                      f"{kind!r}", which="kind" if step == "action" else step)
        by = (recorded_by or "").strip()
        if not by or len(by) > MAX_TEXT:
            raise InvalidRequestError("name the person who attests it (--by)", which="--by")
        given = (evidence or "").strip() or None
        if given is not None and len(given) > MAX_TEXT:
            raise InvalidRequestError(f"an evidence reference holds at most {MAX_TEXT} "
                                      "characters", which="--evidence")
        task = self.find(ref, actor, LeadRefusal)
        check_events(self._lead_events(actor, task, step, kind, given, by)(task))
        self.enforce("lead", actor, task["purpose"], task["case"])
        ids = {"result_id": task["result_id"], "task_id": task["task_id"]}
        state = self.state_of(task)
        if state["state"] not in ("confirmed", "actioned", "outcome"):
            self._refuse(LeadRefusal("lead-not-confirmed", f"this candidate is not a confirmed "
                                     f"lead ({state['confirms']} of {state['required']} "
                                     f"confirmations, {state['rejects']} rejections); a face "
                                     "recognition result alone is never grounds to act"),
                         actor, task, **ids)
        if step == "action" and given is None:
            self._refuse(LeadRefusal("no-evidence", "an action on a lead needs a reference to "
                                     "independent evidence (--evidence): a lead is not "
                                     "evidence"), actor, task, **ids)
        if step == "outcome" and kind == "charged" and not any(
                r["step"] == "action" for r in task["lead_records"]):
            self._refuse(LeadRefusal("lead-not-actioned", "a charge needs an action on "
                                     "independent evidence recorded first"), actor, task, **ids)
        recorded, logged = self.oplog.run(
            "lead", actor=actor, purpose=task["purpose"], case=task["case"],
            write=lambda intent: self.store.add_lead_record(
                task["task_id"], step=step, kind=kind, evidence=given, recorded_by=by,
                actor=actor, now=now, intent=intent),
            outcome=self._lead_events(actor, task, step, kind, given, by), preview=task,
        )
        return {"task_id": task["task_id"], "result_id": task["result_id"],
                "face": task["face"], "subject_id": task["candidate"].get("subject_id"),
                "step": step, "kind": kind, "evidence": given, "recorded_by": by,
                "lead": self.state_of(recorded), "ledger_seq": logged[-1]["seq"],
                "receipt": self._receipt(logged[-1]["seq"])}

    @staticmethod
    def _lead_events(actor: str, task: dict[str, Any], step: str, kind: str,
                     evidence: str | None, by: str
                     ) -> Callable[[dict[str, Any]], list[dict[str, Any]]]:
        digest = None if evidence is None else hashlib.sha256(evidence.encode()).hexdigest()

        def events(_: dict[str, Any]) -> list[dict[str, Any]]:
            return [event(actor, "lead", purpose=task["purpose"], case=task["case"], result={
                "result_id": task["result_id"], "task_id": task["task_id"],
                "face": task["face"], "step": step, "kind": kind, "recorded_by": by,
                "evidence_sha256": digest})]
        return events
