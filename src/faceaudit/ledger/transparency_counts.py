"""The public transparency report's counts: ledger events in, count tables per period out
(no I/O).

Every event is counted in the period its time falls in (``[start, end)`` of each period). The
tables break down the searches (``identify`` events) by offence, purpose, candidates returned,
the bias gate's verdict and the authorisation they ran under; then confirmed leads, actions on
leads, outcomes, refusals by rule, erasures, urgent authorisations settled and integrity
alarms. Tables whose rows partition one population (:data:`POPULATIONS`) share its totals, so
that small-cell suppression (:mod:`faceaudit.ledger.suppression`) can protect them together.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from faceaudit.ledger.suppression import Table

Event = dict[str, Any]
UNITS = ("month", "quarter", "year")
NOT_RECORDED = "not recorded"
WITH_CANDIDATES = "with 1 or more candidates"
#: the row of free-text labels too rare to publish (:meth:`TransparencyTally.tables`)
RARE = "other (each given for fewer than k searches)"
#: what each population counts (the column totals of the tables that break it down)
POPULATIONS = {
    "searches": "searches (1:N identifications)",
    "searches with candidates": "searches that returned 1 or more candidates",
    "actions": "actions taken on confirmed leads",
    "outcomes": "outcomes recorded on leads",
    "refusals": "operations refused and logged",
    "erasures": "erasure and retention events",
    "urgent authorisations": "urgent searches whose authorisation was settled",
}
#: the candidate-count bands of a search that returned candidates
CANDIDATE_BANDS = ("1", "2", "3 to 5", "6 to 10", "more than 10")
#: refusal rules that are attempts at a use the policy does not allow
UNAUTHORISED_RULES = frozenset({
    "operation-not-allowed", "required-field", "authorisation-missing", "authorisation-expired",
    "authorisation-kind", "offence-not-listed", "rate-limit", "self-review", "same-reviewer",
    "lead-not-confirmed", "no-evidence", "lead-not-actioned"})
#: refusal rules that are integrity alarms: a ledger that does not verify, audit evidence that
#: is altered, unsigned, untrusted or not about the model in use
INTEGRITY_RULES = frozenset({
    "ledger-unverified", "audit-record-mismatch", "audit-record-unreadable",
    "audit-signature-invalid", "audit-untrusted-key", "audit-unsigned", "audit-model-mismatch",
    "audit-model-unknown", "audit-not-model", "audit-future"})


@dataclass(frozen=True)
class Period:
    """One column of the report: ``[start, end)`` and its label (``2027-01``, ``2027-Q1``,
    ``2027``)."""

    label: str
    start: datetime
    end: datetime


def report_periods(start: datetime, end: datetime, unit: str = "month") -> list[Period]:
    """The calendar ``unit`` periods (:data:`UNITS`) that cover ``[start, end)``, the first and
    last cut to it. Raises ValueError for an unknown unit or an empty range."""
    if unit not in UNITS:
        raise ValueError(f"unknown period {unit!r}: one of {', '.join(UNITS)}")
    start, end = _utc(start), _utc(end)
    if end <= start:
        raise ValueError("the report period is empty: 'to' must be after 'from'")
    periods = []
    cursor = _floor(start, unit)
    while cursor < end:
        following = _next(cursor, unit)
        periods.append(Period(_label(cursor, unit), max(cursor, start), min(following, end)))
        cursor = following
    return periods


@dataclass
class TransparencyTally:
    """The counts of ``periods``, events added in ledger order (events before the first
    period update the state of searches and leads but are not counted)."""

    periods: Sequence[Period]
    offences: Sequence[str] = ()  # the policy's offence list: its rows come first, even at 0
    counts: dict[str, dict[str, list[int]]] = field(default_factory=dict)
    audits: list[dict[str, Any]] = field(default_factory=list)
    backends: set[str] = field(default_factory=set)  # the models that searched or verified
    templates_searched: int | None = None  # the gallery's size at the last search counted
    _confirmed: set[str] = field(default_factory=set)
    _starts: list[datetime] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._starts = [p.start for p in self.periods]
        for offence in self.offences:
            self._row("searches_by_offence", offence)
        for band in CANDIDATE_BANDS:
            self._row("searches_by_candidates", band)
        for row in (WITH_CANDIDATES, "with no candidate"):
            self._row("searches_by_result", row)
        self._row("leads", "confirmed leads")
        self._row("verifications", "1:1 verifications")
        self._row("integrity", "ledger recoveries (restore-heads, upgrade)")

    def add(self, event: Event) -> None:
        """Count one event."""
        action, result = event["action"], event["result"] or {}
        if action == "audit":
            self.audits.append(_audit(event))
        first = action == "review" and self._first_confirmation(result)
        column = self._column(event["time"])
        if column is None:
            return
        if action in ("identify", "verify") and event["backend_id"]:
            self.backends.add(str(event["backend_id"]))
        if action == "identify":
            self._search(event, result, column)
        elif action == "verify":
            self._count("verifications", "1:1 verifications", column)
        elif action == "review" and first:
            self._count("leads", "confirmed leads", column)
        elif action == "lead" and result.get("step") in ("action", "outcome"):
            table = "lead_actions" if result["step"] == "action" else "lead_outcomes"
            self._count(table, str(result.get("kind") or NOT_RECORDED), column)
        elif action == "refused":
            self._count("refusals_by_rule", str(result.get("rule") or NOT_RECORDED), column)
        elif action in ("erase", "purge"):
            self._count("erasures", "subject erasures" if action == "erase"
                        else "retention purges", column)
        elif action == "authorisation" and result.get("decision") in ("granted", "refused"):
            self._count("urgent_authorisations", str(result["decision"]), column)
        elif action == "outputs_deleted" and result.get("reason") == \
                "authorisation-deadline-passed":
            self._count("urgent_authorisations", "deadline passed", column,
                        len(result.get("result_ids") or []))
        elif action == "ledger_recovery":
            self._count("integrity", "ledger recoveries (restore-heads, upgrade)", column)

    def tables(self, rare_below: int = 1) -> list[Table]:
        """The count tables (:class:`~faceaudit.ledger.suppression.Table`), in report order.

        Rows labelled by free text an officer typed — purposes, and offences outside the
        policy's list — are merged into :data:`RARE` when fewer than ``rare_below`` searches
        gave that text over the whole report: a rare label can name a person even when its
        count is suppressed."""
        labels = tuple(p.label for p in self.periods)
        spec: list[tuple[str, str | None, tuple[tuple[str, str], ...]]] = [
            ("searches_by_offence", "searches", ()),
            ("searches_by_purpose", "searches", ()),
            ("searches_by_result", "searches", ((WITH_CANDIDATES, "searches with candidates"),)),
            ("searches_by_candidates", "searches with candidates", ()),
            ("searches_by_gate", "searches", ()),
            ("searches_by_authorisation", "searches", ()),
            ("verifications", None, ()),
            ("leads", None, ()),
            ("lead_actions", "actions", ()),
            ("lead_outcomes", "outcomes", ()),
            ("refusals_by_rule", "refusals", ()),
            ("erasures", "erasures", ()),
            ("urgent_authorisations", "urgent authorisations", ()),
            ("integrity", None, ()),
        ]
        out = []
        for name, population, links in spec:
            rows = self.counts.get(name, {})
            if name in ("searches_by_purpose", "searches_by_offence"):
                rows = _merge_rare(rows, rare_below, self.offences)
            out.append(Table(name, tuple(rows), labels, tuple(tuple(v) for v in rows.values()),
                             population, links))
        return out

    # -- one kind of event each --------------------------------------------------------------

    def _search(self, event: Event, result: dict[str, Any], column: int) -> None:
        use = _table(result.get("use"))
        given = _table(use.get("authorisation"))
        gate = _table(result.get("gate"))
        database = _table(use.get("reference_database"))
        if isinstance(database.get("templates"), int):
            self.templates_searched = database["templates"]
        candidates = result.get("candidates")
        candidates = candidates if isinstance(candidates, int) and candidates > 0 else 0
        self._count("searches_by_offence", _text(use.get("offence")), column)
        self._count("searches_by_purpose", _text(event["purpose"]), column)
        self._count("searches_by_result", WITH_CANDIDATES if candidates else "with no candidate",
                    column)
        if candidates:
            self._count("searches_by_candidates", _band(candidates), column)
        verdict = gate.get("verdict")
        self._count("searches_by_gate", "under a waiver" if verdict == "waived" else
                    "gate passed" if verdict == "passed" else f"gate {_text(verdict)}", column)
        self._count("searches_by_authorisation", _text(given.get("kind"), "none"), column)

    def _first_confirmation(self, result: dict[str, Any]) -> bool:
        """Whether this review event makes its candidate a confirmed lead for the first time
        (a per-candidate review's ``lead``; an older whole-search review's ``decision``)."""
        task = result.get("task_id")
        if isinstance(task, str):
            confirmed = result.get("lead") == "confirmed"
            key = f"task:{task}"
        else:
            confirmed = str(result.get("decision") or "").lower().startswith("confirm")
            key = f"result:{result.get('result_id')}"
        if not confirmed or key in self._confirmed:
            return False
        self._confirmed.add(key)
        return True

    # -- helpers -----------------------------------------------------------------------------

    def _column(self, time: str) -> int | None:
        when = _utc(datetime.fromisoformat(time))
        index = bisect_right(self._starts, when) - 1
        if index < 0 or when >= self.periods[index].end:
            return None
        return index

    def _row(self, table: str, row: str) -> list[int]:
        rows = self.counts.setdefault(table, {})
        return rows.setdefault(row, [0] * len(self.periods))

    def _count(self, table: str, row: str, column: int, n: int = 1) -> None:
        self._row(table, row)[column] += n


def _merge_rare(rows: dict[str, list[int]], below: int,
                keep: Sequence[str]) -> dict[str, list[int]]:
    """``rows`` with those of fewer than ``below`` events in all (but ``keep`` and
    :data:`NOT_RECORDED`) added up into one :data:`RARE` row."""
    out: dict[str, list[int]] = {}
    rare: list[int] | None = None
    for label, values in rows.items():
        if sum(values) < below and label not in keep and label != NOT_RECORDED:
            rare = [a + b for a, b in zip(rare or [0] * len(values), values, strict=True)]
        else:
            out[label] = values
    if rare is not None:
        out[RARE] = rare
    return out


def tally_transparency(events: Iterable[Event], periods: Sequence[Period],
                       offences: Sequence[str] = ()) -> TransparencyTally:
    """Count ``events`` (ledger order, from the first; none need come after the last period)
    into ``periods``; ``offences`` (the policy's list) are rows even when never searched."""
    tally = TransparencyTally(periods, tuple(offences))
    for event in events:
        tally.add(event)
    return tally


def audits_in_force(audits: Sequence[dict[str, Any]], at: datetime) -> list[dict[str, Any]]:
    """The audits the bias gate reads at ``at``: of those registered before it, the newest
    (by creation, then registration) per backend and mode."""
    newest: dict[tuple[str, str], dict[str, Any]] = {}
    for audit in audits:
        if _utc(datetime.fromisoformat(audit["registered_at"])) >= _utc(at):
            continue
        key = (audit["backend_id"], audit["mode"])
        if key not in newest or (audit["created_at"], audit["seq"]) >= (
                newest[key]["created_at"], newest[key]["seq"]):
            newest[key] = audit
    return [newest[key] for key in sorted(newest)]


def _audit(event: Event) -> dict[str, Any]:
    result = event["result"] or {}
    return {"seq": event["seq"], "registered_at": event["time"],
            "backend_id": str(event["backend_id"] or ""), "audit_id": result.get("audit_id"),
            "report_sha256": result.get("report_sha256"),
            "created_at": str(result.get("created_at") or ""),
            "mode": str(result.get("mode") or "exhaustive"),
            "gate_passed_when_registered": result.get("gate_passed")}


def _table(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _band(candidates: int) -> str:
    if candidates <= 2:
        return str(candidates)
    return "3 to 5" if candidates <= 5 else "6 to 10" if candidates <= 10 else "more than 10"


def _text(value: Any, missing: str = NOT_RECORDED) -> str:
    return value.strip() if isinstance(value, str) and value.strip() else missing


def _utc(when: datetime) -> datetime:
    return when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)


def _floor(when: datetime, unit: str) -> datetime:
    month = {"month": when.month, "quarter": 3 * ((when.month - 1) // 3) + 1, "year": 1}[unit]
    return datetime(when.year, month, 1, tzinfo=UTC)


def _next(when: datetime, unit: str) -> datetime:
    months = {"month": 1, "quarter": 3, "year": 12}[unit]
    index = when.year * 12 + when.month - 1 + months
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


def _label(when: datetime, unit: str) -> str:
    if unit == "year":
        return f"{when.year}"
    if unit == "quarter":
        return f"{when.year}-Q{(when.month - 1) // 3 + 1}"
    return f"{when.year}-{when.month:02d}"
