"""The oversight report's leads and cases: per-candidate review and lead events in, rows out
(no I/O).

A search goes searched → candidates → confirmed lead → actioned (on independent evidence) →
outcome. :class:`LeadTally` follows each review task through its ``review`` events (each
carries the candidate's state after it: ``pending``, ``confirmed``, ``unconfirmed``) and its
``lead`` events (``action``, then ``outcome``), and sums them per case: searches, candidates,
review times, confirmation and disagreement rates, actions and outcomes.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from statistics import median
from typing import Any

Event = dict[str, Any]
Row = dict[str, Any]
#: the steps of a search, in order; a case's state is the furthest any of its searches reached
STEPS = ("searched", "candidates", "confirmed lead", "actioned", "outcome")
FINAL = ("confirmed", "unconfirmed")


def _seconds(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    return round((datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds(),
                 3)


@dataclass
class LeadTally:
    """Review tasks and leads of one period, added in ledger order."""

    searches: dict[str, Row] = field(default_factory=dict)  # result id → {time, case, ...}
    tasks: dict[str, Row] = field(default_factory=dict)

    def search(self, result_id: str, time: str, case: str | None, candidates: int) -> None:
        """An ``identify`` event: the search and how many candidates it returned."""
        self.searches[result_id] = {"time": time, "case": case, "candidates": candidates}

    def review(self, event: Event) -> None:
        """A ``review`` event of one task (``result.task_id``)."""
        result = event["result"] or {}
        searched = self.searches.get(str(result.get("result_id")))
        row = self.tasks.setdefault(result["task_id"], {
            "task_id": result["task_id"], "result_id": result.get("result_id"),
            "case": event["case"], "face": result.get("face"), "reviewers": "",
            "confirms": 0, "rejects": 0, "lead": "pending", "disagreement": False,
            "searched_at": searched["time"] if searched else None, "decided_at": None,
            "review_time_s": None, "action": None, "evidence_sha256": None, "actioned_by": None,
            "actioned_at": None, "outcome": None, "outcome_at": None})
        row["reviewers"] = ", ".join(filter(None, [row["reviewers"], event["actor"]]))
        for key in ("confirms", "rejects", "disagreement"):
            if key in result:
                row[key] = result[key]
        row["lead"] = str(result.get("lead") or "pending")
        if row["lead"] in FINAL and row["decided_at"] is None:
            row["decided_at"] = event["time"]
            row["review_time_s"] = _seconds(row["searched_at"], event["time"])

    def lead(self, event: Event) -> None:
        """A ``lead`` event: an action on a confirmed lead, or its outcome."""
        result = event["result"] or {}
        row = self.tasks.get(str(result.get("task_id")))
        if row is None:
            return  # its review happened before the period
        if result.get("step") == "action":
            row.update(action=result.get("kind"), evidence_sha256=result.get("evidence_sha256"),
                       actioned_by=result.get("recorded_by"), actioned_at=event["time"])
        elif result.get("step") == "outcome":
            row.update(outcome=result.get("kind"), outcome_at=event["time"])

    def search_state(self, result_id: str) -> str:
        """How far one search went (:data:`STEPS`)."""
        searched = self.searches.get(result_id, {})
        rows = [r for r in self.tasks.values() if r["result_id"] == result_id]
        if any(r["outcome"] for r in rows):
            return "outcome"
        if any(r["action"] for r in rows):
            return "actioned"
        if any(r["lead"] == "confirmed" for r in rows):
            return "confirmed lead"
        return "candidates" if searched.get("candidates") else "searched"

    def sections(self) -> dict[str, Any]:
        """The ``leads`` section (rates and one row per reviewed task) and ``cases``."""
        rows = sorted(self.tasks.values(), key=lambda r: (r["searched_at"] or "", r["task_id"]))
        decided = [r for r in rows if r["lead"] in FINAL]
        times = [r["review_time_s"] for r in decided if r["review_time_s"] is not None]
        leads = {
            "reviewed_tasks": len(rows),
            "decided": len(decided),
            "confirmed": sum(r["lead"] == "confirmed" for r in rows),
            "unconfirmed": sum(r["lead"] == "unconfirmed" for r in rows),
            "disagreements": sum(bool(r["disagreement"]) for r in rows),
            "confirmation_rate": _rate(sum(r["lead"] == "confirmed" for r in decided), decided),
            "disagreement_rate": _rate(sum(bool(r["disagreement"]) for r in decided), decided),
            "median_review_time_s": median(times) if times else None,
            "actioned": sum(bool(r["action"]) for r in rows),
            "outcomes": dict(sorted(Counter(r["outcome"] for r in rows if r["outcome"]).items())),
            "rows": rows,
        }
        return {"leads": leads, "cases": self._cases()}

    def _cases(self) -> list[Row]:
        cases: dict[str, Row] = {}
        for result_id, searched in self.searches.items():
            case = searched["case"] or ""
            row = cases.setdefault(case, {
                "case": case, "searches": 0, "candidates": 0, "confirmed_leads": 0,
                "unconfirmed": 0, "disagreements": 0, "actioned": 0, "outcomes": "",
                "median_review_time_s": None, "state": "searched", "_times": [],
                "_outcomes": []})
            row["searches"] += 1
            row["candidates"] += searched["candidates"]
            state = self.search_state(result_id)
            if STEPS.index(state) > STEPS.index(row["state"]):
                row["state"] = state
            for task in (t for t in self.tasks.values() if t["result_id"] == result_id):
                row["confirmed_leads"] += task["lead"] == "confirmed"
                row["unconfirmed"] += task["lead"] == "unconfirmed"
                row["disagreements"] += bool(task["disagreement"])
                row["actioned"] += bool(task["action"])
                if task["outcome"]:
                    row["_outcomes"].append(task["outcome"])
                if task["review_time_s"] is not None:
                    row["_times"].append(task["review_time_s"])
        out = []
        for row in sorted(cases.values(), key=lambda r: r["case"]):
            times, ended = row.pop("_times"), row.pop("_outcomes")
            row["median_review_time_s"] = median(times) if times else None
            row["outcomes"] = ", ".join(sorted(ended))
            out.append(row)
        return out


def _rate(count: int, of: list[Any]) -> float | None:
    return round(count / len(of), 4) if of else None
