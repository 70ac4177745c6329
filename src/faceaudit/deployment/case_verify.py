"""Check a case's disclosure bundle (:mod:`faceaudit.deployment.case_bundle`) offline, with
nothing but the deployment's public key obtained out of band: every event's hash, every receipt
(its inclusion proof and the signed tree head it leads to), every stored candidate list against
its identify event's commitments, every policy text and audit report against the hash its event
records, and the omissions a bundle can show — a review, lead or authorisation whose search is
missing, an audit or policy a search relied on that is not included, a bundle that is not the
one its ``case_export`` event recorded.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from faceaudit.deployment.case_bundle import bundle_digest
from faceaudit.gallery.commitments import candidate_commitment, recorded_candidates
from faceaudit.ledger.canonical import event_hash
from faceaudit.ledger.sth import receipt_problem


@dataclass
class CaseCheck:
    """The outcome: ``ok`` when no problem was found; each problem one line."""

    events: int = 0
    searches: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether the bundle passed every check."""
        return not self.problems


def _candidates_problem(result_id: str, faces: list[dict[str, Any]],
                        committed: dict[str, Any]) -> str | None:
    for index, face in enumerate(faces):
        expected = recorded_candidates(committed.get(str(index)))
        candidates = face.get("candidates", [])
        if len(candidates) != len(expected):
            return (f"result {result_id} face {index}: {len(candidates)} candidates, its "
                    f"identify event recorded {len(expected)}")
        for position, candidate in enumerate(candidates):
            if candidate.get("subject_id") is None:
                continue  # scrubbed by an erasure
            if candidate_commitment(result_id, index, position + 1, candidate["subject_id"],
                                    candidate.get("score", 0.0)) != expected[position]:
                return (f"result {result_id} face {index}: candidate {position + 1} is not the "
                        "one its identify event recorded")
    return None


def check_case_bundle(bundle: dict[str, Any], public_key: Any) -> CaseCheck:
    """Check ``bundle`` against ``public_key`` (see the module docstring)."""
    check = CaseCheck()
    problems = check.problems
    if bundle.get("format") != "faceaudit-case/1":
        problems.append(f"not a faceaudit case bundle (format {bundle.get('format')!r})")
        return check
    events: dict[int, dict[str, Any]] = {}
    for item in bundle.get("events", []):
        event, receipt = item.get("event"), item.get("receipt")
        if not isinstance(event, dict) or not isinstance(receipt, dict):
            problems.append("an entry without its event or receipt")
            continue
        seq = event.get("seq")
        if not isinstance(seq, int):
            problems.append("an event without a sequence number")
            continue
        if event_hash(event) != event.get("hash"):
            problems.append(f"event {seq}: its content does not hash to its recorded hash "
                            "(altered)")
        why = receipt_problem(receipt, public_key, event)
        if why is not None:
            problems.append(f"event {seq}: {why}")
        events[seq] = event
    check.events = len(events)
    case = bundle.get("case")
    identify = {e["result"]["result_id"]: e for e in events.values()
                if e["action"] == "identify" and isinstance(e.get("result"), dict)}
    check.searches = len(identify)
    for event in events.values():
        result = event.get("result") or {}
        if event.get("case") == case and event["action"] in (
                "review", "lead", "authorisation") and result.get("result_id") not in identify:
            problems.append(f"event {event['seq']} ({event['action']}) is about search "
                            f"{result.get('result_id')}, which the bundle leaves out")
        gate = result.get("gate") if event["action"] == "identify" else None
        if isinstance(gate, dict) and isinstance(gate.get("audit_seq"), int) \
                and gate["audit_seq"] not in events:
            problems.append(f"search {result.get('result_id')} relied on audit event "
                            f"{gate['audit_seq']}, which the bundle leaves out")
    stored = bundle.get("results", {})
    for result_id, search in identify.items():
        committed = search["result"].get("candidate_commitments")
        faces = (stored.get(result_id) or {}).get("faces")
        if search["result"].get("candidates", 0) and faces is None:
            problems.append(f"search {result_id}: its candidate list is missing")
        elif isinstance(committed, dict) and faces is not None:
            why = _candidates_problem(result_id, faces, committed)
            if why:
                problems.append(why)
    for event in events.values():
        result = event.get("result") or {}
        if event["action"] == "policy_change":
            text = bundle.get("policies", {}).get(result.get("sha256"))
            if text is not None and hashlib.sha256(text.encode()).hexdigest() != result["sha256"]:
                problems.append(f"the policy text of event {event['seq']} was altered")
        if event["action"] == "audit":
            report = bundle.get("audits", {}).get(result.get("report_sha256"))
            if report is not None and hashlib.sha256(
                    report.encode()).hexdigest() != result["report_sha256"]:
                problems.append(f"the audit report of event {event['seq']} was altered")
    exports = [e for e in events.values() if e["action"] == "case_export"]
    if not exports:
        problems.append("the bundle holds no case_export event recording what it contains")
    else:
        recorded = exports[-1]["result"]
        included = [e for s, e in events.items() if s != exports[-1]["seq"]]
        if recorded.get("digest") != bundle_digest(included):
            problems.append("the bundle's events are not those its case_export event recorded "
                            "(an event added or left out)")
    return check
