"""The oversight report's counts: ledger events in, counts and table rows out (no I/O).

:func:`tally_events` is the computing half of the oversight report; the report itself (its
period, the ledger's verification status, the HTML/JSON/CSV files) is built in
:mod:`faceaudit.ledger.oversight`.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from faceaudit.ledger.oversight_leads import LeadTally

SEARCH_ACTIONS = ("identify", "verify")
MODEL_ACTIONS = ("enrol", "identify", "verify")

Event = dict[str, Any]
Row = dict[str, Any]


def tally_events(events: Iterable[Event], start: datetime) -> dict[str, Any]:
    """The oversight counts and rows of ``events`` (in ledger order, none after the period's
    end): events at or after ``start`` are counted; audit registrations of any time before the
    end are listed for the backends used in the period."""
    tally = OversightTally()
    for event in events:
        tally.add(event, in_period=datetime.fromisoformat(event["time"]) >= start)
    return tally.sections()


@dataclass
class OversightTally:
    """What the events of one period add up to, as they are added in ledger order.

    Review outcomes are judged by the events added: an identification with no review event
    among them is pending.
    """

    actions: Counter[str] = field(default_factory=Counter)
    searches: dict[tuple[str, str, str], Counter[str]] = field(
        default_factory=lambda: defaultdict(Counter))
    results: dict[str, Row] = field(default_factory=dict)
    refusals: list[Row] = field(default_factory=list)
    erasures: list[Row] = field(default_factory=list)
    policy_changes: list[Row] = field(default_factory=list)
    audits: list[Row] = field(default_factory=list)  # every registration, in the period or not
    backends: set[str] = field(default_factory=set)
    leads: LeadTally = field(default_factory=LeadTally)  # per-candidate review and leads

    def add(self, event: Event, *, in_period: bool) -> None:
        """Count one event (an audit registration is listed even when not ``in_period``)."""
        if event["action"] == "audit":
            self.audits.append(_audit_row(event))
        if not in_period:
            return
        action, result = event["action"], event["result"] or {}
        self.actions[action] += 1
        if action in MODEL_ACTIONS and event["backend_id"]:
            self.backends.add(event["backend_id"])
        if action in SEARCH_ACTIONS:
            key = (event["actor"], event["purpose"] or "", event["case"] or "")
            self.searches[key][action] += 1
            self.searches[key]["candidates"] += _count(result.get("candidates"))
        if action == "identify" and isinstance(result.get("result_id"), str):
            self.results[result["result_id"]] = {
                "result_id": result["result_id"],
                "time": event["time"],
                "actor": event["actor"],
                "purpose": event["purpose"],
                "case": event["case"],
                "candidates": _count(result.get("candidates")),
                "outcome": "pending",
                "reviewer": None,
                "reviewed_at": None,
                "gate": _gate_verdict(result.get("gate")),
                **_use_columns(result.get("use")),
            }
            self.leads.search(result["result_id"], event["time"], event["case"],
                              _count(result.get("candidates")))
        elif action == "review" and isinstance(result.get("task_id"), str):
            self.leads.review(event)
        elif action == "lead":
            self.leads.lead(event)
        elif action == "review" and result.get("result_id") in self.results:
            row = self.results[result["result_id"]]
            row["outcome"] = _outcome(result.get("decision"))
            row["reviewer"], row["reviewed_at"] = event["actor"], event["time"]
        elif action == "authorisation" and result.get("result_id") in self.results:
            row = self.results[result["result_id"]]
            granted = result.get("decision") == "granted"
            row["status"] = "authorised" if granted else "authorisation refused"
            given = result.get("authorisation") or {}
            if granted and isinstance(given, dict):
                row["authorisation"] = given.get("reference")
                row["authority"] = given.get("authority")
        elif action == "outputs_deleted":
            for result_id in result.get("result_ids") or []:
                if result_id in self.results:
                    self.results[result_id]["status"] = f"outputs deleted ({result.get('reason')})"
            self.erasures.append(_row(event, action=action, summary=_compact(result)))
        elif action == "refused":
            self.refusals.append(_row(event, operation=result.get("operation"),
                                      rule=result.get("rule"), detail=result.get("detail")))
        elif action in ("erase", "purge"):
            self.erasures.append(_row(event, action=action, summary=_compact(result)))
        elif action == "policy_change":
            self.policy_changes.append(_row(event, sha256=result.get("sha256"),
                                            previous_sha256=result.get("previous_sha256")))

    def sections(self) -> dict[str, Any]:
        """The report's sections from ``events_by_action`` to ``unaudited_backends``."""
        search_rows = [
            {"actor": a, "purpose": p, "case": c, "identify": n["identify"],
             "verify": n["verify"], "candidates": n["candidates"]}
            for (a, p, c), n in sorted(self.searches.items())
        ]
        for row in self.results.values():
            self._task_outcome(row)
        review_rows = sorted(self.results.values(), key=lambda r: r["time"])
        return {
            "events_by_action": dict(sorted(self.actions.items())),
            "searches": search_rows,
            "searches_by_actor": _totals(search_rows, "actor"),
            "searches_by_purpose": _totals(search_rows, "purpose"),
            "searches_by_case": _totals(search_rows, "case"),
            "candidates": {
                "total": sum(r["candidates"] for r in review_rows),
                "max": max((r["candidates"] for r in review_rows), default=0),
                "identifications": len(review_rows),
            },
            "reviews": {
                "confirmed": sum(r["outcome"] == "confirmed" for r in review_rows),
                "rejected": sum(r["outcome"] == "rejected" for r in review_rows),
                "pending": sum(r["outcome"] == "pending" for r in review_rows),
                "rows": review_rows,
            },
            "erasures": self.erasures,
            "refusals": self.refusals,
            "refusals_by_rule": dict(sorted(Counter(r["rule"] for r in self.refusals).items())),
            "policy_changes": self.policy_changes,
            "backends_used": sorted(self.backends),
            "audits": [a for a in self.audits if a["backend_id"] in self.backends],
            "unaudited_backends": sorted(self.backends - {a["backend_id"] for a in self.audits}),
            **self.leads.sections(),
        }

    def _task_outcome(self, row: Row) -> None:
        """A search reviewed per candidate: ``confirmed`` once one candidate is a confirmed
        lead, ``rejected`` once every candidate is decided and none is, else ``pending``;
        its reviewers, the last decision's time and how far it went (``state``)."""
        row["state"] = self.leads.search_state(row["result_id"])
        tasks = [t for t in self.leads.tasks.values() if t["result_id"] == row["result_id"]]
        if not tasks:
            return
        decided = [t for t in tasks if t["decided_at"]]
        if any(t["lead"] == "confirmed" for t in tasks):
            row["outcome"] = "confirmed"
        elif len(decided) >= row["candidates"]:
            row["outcome"] = "rejected"
        else:
            row["outcome"] = "pending"
        row["reviewer"] = ", ".join(sorted({r for t in tasks for r in t["reviewers"].split(", ")
                                            if r}))
        row["reviewed_at"] = max((t["decided_at"] for t in decided), default=None)


def _use_columns(use: Any) -> Row:
    """The Art. 12(3) columns of one search from its ``result.use`` record (blank for
    searches logged before it existed)."""
    use = use if isinstance(use, dict) else {}
    given = use.get("authorisation") if isinstance(use.get("authorisation"), dict) else {}
    database = use.get("reference_database") if isinstance(
        use.get("reference_database"), dict) else {}
    return {"started_at": use.get("started_at"), "ended_at": use.get("ended_at"),
            "templates_searched": database.get("templates"),
            "gallery_state": database.get("state_digest"),
            "probe_sha256": use.get("probe_sha256"), "faces_found": use.get("faces_found"),
            "authorisation": given.get("reference"), "authorisation_kind": given.get("kind"),
            "authority": given.get("authority"), "offence": use.get("offence"),
            "status": "held" if use.get("held_until") else "searched"}


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _outcome(decision: Any) -> str:
    text = str(decision or "").lower()
    if text.startswith("confirm"):
        return "confirmed"
    if text.startswith("reject"):
        return "rejected"
    return "pending"


def _gate_verdict(gate: Any) -> str:
    """How the bias gate let a search through, as its event recorded it: ``passed``,
    ``waived (rule)``, or ``not recorded`` (events from before the gate was recorded)."""
    if not isinstance(gate, dict):
        return "not recorded"
    if gate.get("verdict") == "waived":
        return f"waived ({gate.get('waived_rule')})"
    return str(gate.get("verdict"))


def _row(event: Event, **extra: Any) -> Row:
    return {"seq": event["seq"], "time": event["time"], "actor": event["actor"],
            "purpose": event["purpose"], "case": event["case"], **extra}


def _audit_row(event: Event) -> Row:
    result = event["result"] or {}
    return {"seq": event["seq"], "registered_at": event["time"], "actor": event["actor"],
            "backend_id": event["backend_id"], "audit_id": result.get("audit_id"),
            "created_at": result.get("created_at"), "gate_passed": result.get("gate_passed"),
            "gate_rule": result.get("gate_rule")}


def _compact(result: dict[str, Any]) -> str:
    return json.dumps(result, sort_keys=True, separators=(",", ":"))


def _totals(rows: list[Row], key: str) -> list[Row]:
    totals: dict[str, Counter[str]] = defaultdict(Counter)
    for row in rows:
        for name in ("identify", "verify", "candidates"):
            totals[row[key]][name] += row[name]
    return [{key: k, **v} for k, v in sorted(totals.items())]
