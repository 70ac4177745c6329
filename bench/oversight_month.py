"""The oversight report of a scripted month: searches, review times, confirmation and
disagreement rates, actions and outcomes, per case.

A month of a police deployment is scripted as the ledger events faceaudit writes (``identify``
with its use record, one ``review`` per reviewer per candidate carrying the candidate's state,
``lead`` actions and outcomes, ``refused`` attempts), spread over 30 days with the reviews hours
after their search, then counted by the oversight report's own code
(:func:`faceaudit.ledger.oversight_counts.tally_events`) and written as its files
(:func:`faceaudit.ledger.oversight.write_oversight`). Scripted events, not a recorded month:
a ledger's times are the times its events were appended, so a real month takes a month.

    .venv/bin/python bench/oversight_month.py --out oversight-month/     # seed 7, 12 cases
"""

from __future__ import annotations

import argparse
import random
import statistics
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from faceaudit.ledger.oversight import write_oversight
from faceaudit.ledger.oversight_counts import tally_events

START = datetime(2026, 11, 1, tzinfo=UTC)
DAYS = 30
OFFICERS = ("det-ali", "det-bo", "det-cruz")
REVIEWERS = ("rev-ann", "rev-ben", "rev-cho", "rev-dee")


@dataclass
class Month:
    """The scripted events and what the script itself decided (to check the report against)."""

    events: list[dict[str, Any]] = field(default_factory=list)
    confirmed: int = 0
    unconfirmed: int = 0
    disagreements: int = 0
    actioned: int = 0
    review_hours: list[float] = field(default_factory=list)

    def add(self, time: datetime, actor: str, action: str, case: str | None,
            result: dict[str, Any]) -> None:
        """One event as the ledger stores it (``seq`` given when sorted)."""
        self.events.append({"seq": 0, "time": time.isoformat(timespec="microseconds"),
                            "actor": actor, "action": action, "purpose": "investigation",
                            "case": case, "legal_basis": None, "backend_id": "dlib-resnet:1",
                            "threshold": 0.928, "result": result})


def scripted_month(seed: int = 7, cases: int = 12) -> Month:
    """A month of searches, two independent reviews per candidate, actions on confirmed leads
    with evidence, outcomes and refused attempts; events in time order."""
    rng = random.Random(seed)
    month = Month()
    for n in range(cases):
        case = f"C-2026-{100 + n}"
        for _ in range(rng.randint(1, 4)):
            searched = START + timedelta(days=rng.uniform(0, DAYS - 3))
            officer = rng.choice(OFFICERS)
            result_id = uuid.UUID(int=rng.getrandbits(128)).hex
            faces = [rng.choice((0, 0, 1, 2, 3)) for _ in range(rng.randint(1, 3))]
            month.add(searched, officer, "identify", case, {
                "result_id": result_id, "faces": len(faces), "candidates": sum(faces),
                "use": {"started_at": searched.isoformat(), "ended_at": searched.isoformat(),
                        "probe_sha256": "0" * 64, "faces_found": len(faces),
                        "reference_database": {"templates": 5000}, "authorisation": {
                            "reference": f"W-{n}", "authority": "District Court",
                            "kind": "warrant"}, "offence": "robbery", "held_until": None}})
            if not any(faces):
                month.add(searched + timedelta(minutes=5), rng.choice(REVIEWERS), "refused",
                          case, {"rule": "no-candidates", "operation": "review",
                                 "detail": "face 0 has no candidates", "result_id": result_id})
            for face, count in enumerate(faces):
                for _ in range(count):
                    _review(month, rng, case, result_id, face, searched)
    month.events.sort(key=lambda e: e["time"])
    for seq, logged in enumerate(month.events, start=1):
        logged["seq"] = seq
    return month


def _review(month: Month, rng: random.Random, case: str, result_id: str, face: int,
            searched: datetime) -> None:
    """Two reviewers decide one candidate; a confirmed lead may be actioned, then closed."""
    task_id = uuid.UUID(int=rng.getrandbits(128)).hex[:24]
    first, second = rng.sample(REVIEWERS, 2)
    mated = rng.random() < 0.35  # the candidate really is the person searched for
    decisions = ["confirm" if rng.random() < (0.9 if mated else 0.12) else "reject"
                 for _ in range(2)]
    at = searched
    settled: datetime | None = None  # the decision that made the candidate's state final
    for index, (reviewer, decision) in enumerate(zip((first, second), decisions, strict=True)):
        at = at + timedelta(hours=rng.uniform(0.5, 30))
        confirms, rejects = decisions[:index + 1].count("confirm"), decisions[
            :index + 1].count("reject")
        lead = "unconfirmed" if rejects else ("confirmed" if confirms == 2 else "pending")
        if lead != "pending" and settled is None:
            settled = at
        month.add(at, reviewer, "review", case, {
            "result_id": result_id, "task_id": task_id, "face": face, "decision": decision,
            "reviewer": reviewer, "lead": lead, "confirms": confirms, "rejects": rejects,
            "disagreement": bool(confirms and rejects), "required": 2})
    assert settled is not None  # two decisions always settle a candidate
    month.review_hours.append((settled - searched).total_seconds() / 3600)
    if decisions == ["confirm", "confirm"]:
        month.confirmed += 1
    else:
        month.unconfirmed += 1
        month.disagreements += decisions.count("confirm") == 1
        return
    if rng.random() < 0.3:  # tried to act without evidence: refused
        month.add(at + timedelta(hours=1), "det-ali", "refused", case, {
            "rule": "no-evidence", "operation": "lead", "detail": "no evidence reference",
            "result_id": result_id, "task_id": task_id})
    if rng.random() < 0.7:
        month.actioned += 1
        acted = at + timedelta(hours=rng.uniform(2, 48))
        month.add(acted, "det-bo", "lead", case, {
            "result_id": result_id, "task_id": task_id, "face": face, "step": "action",
            "kind": rng.choice(("lineup", "interview", "warrant")), "recorded_by": "Det. Bo",
            "evidence_sha256": "e" * 64})
        month.add(acted + timedelta(days=rng.uniform(1, 5)), "det-bo", "lead", case, {
            "result_id": result_id, "task_id": task_id, "face": face, "step": "outcome",
            "kind": rng.choice(("cleared", "charged", "no-further-action")),
            "recorded_by": "Det. Bo", "evidence_sha256": None})


def report(month: Month, end: datetime | None = None) -> dict[str, Any]:
    """The oversight report's sections for the month (from the report's own counting)."""
    end = end or START + timedelta(days=DAYS + 10)
    sections = tally_events((e for e in month.events if e["time"] < end.isoformat()), START)
    return {"period": {"start": START.isoformat(), "end": end.isoformat()},
            "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "ledger": {"path": "scripted month (bench/oversight_month.py)", "ok": True,
                       "summary": "scripted events, not a recorded ledger"}, **sections}


def main() -> None:
    """Script the month, write its oversight report, print the per-case table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--cases", type=int, default=12)
    parser.add_argument("--out", type=Path, default=Path("oversight-month"))
    args = parser.parse_args()
    month = scripted_month(args.seed, args.cases)
    built = report(month)
    paths = write_oversight(built, args.out)
    leads = built["leads"]
    print(f"{len(month.events)} events; {leads['decided']} candidates decided: "
          f"{leads['confirmed']} confirmed leads (rate {leads['confirmation_rate']}), "
          f"{leads['disagreements']} disagreements (rate {leads['disagreement_rate']}), "
          f"median review time {leads['median_review_time_s'] / 3600:.1f} h "
          f"(script: {statistics.median(month.review_hours):.1f} h), "
          f"{leads['actioned']} actioned, outcomes {leads['outcomes']}")
    print(f"{'case':<12} {'state':<15} {'searches':>8} {'cand.':>6} {'conf.':>6} "
          f"{'disagr.':>7} {'review h':>8} {'acted':>6}  outcomes")
    for row in built["cases"]:
        hours = row["median_review_time_s"]
        print(f"{row['case']:<12} {row['state']:<15} {row['searches']:>8} "
              f"{row['candidates']:>6} {row['confirmed_leads']:>6} {row['disagreements']:>7} "
              f"{'-' if hours is None else f'{hours / 3600:.1f}':>8} {row['actioned']:>6}  "
              f"{row['outcomes']}")
    print(f"wrote {', '.join(p.name for p in paths)} to {args.out}")


if __name__ == "__main__":
    main()
