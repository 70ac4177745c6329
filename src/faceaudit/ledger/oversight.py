"""The oversight report: who searched for whom, why, with which model, and was it audited."""

from __future__ import annotations

import csv
import json
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment

from faceaudit.ledger.store import Ledger

SEARCH_ACTIONS = ("identify", "verify")
MODEL_ACTIONS = ("enrol", "identify", "verify")


def build_oversight(ledger: Ledger, start: datetime, end: datetime) -> dict[str, Any]:
    """Summarise the ledger events with ``start <= time < end`` for an oversight body.

    Review outcomes are judged at ``end``: an identification with no review event before
    ``end`` is pending. Audits listed are those of the backends used in the period, registered
    at any time before ``end``. Includes the ledger's verification status.
    """
    start, end = _aware(start), _aware(end)
    if end <= start:
        raise ValueError("the report period is empty: end must be after start")
    actions: Counter[str] = Counter()
    searches: dict[tuple[str, str, str], Counter[str]] = defaultdict(Counter)
    results: dict[str, dict[str, Any]] = {}
    refusals, erasures, policy_changes, audits = [], [], [], []
    backends: set[str] = set()
    for event in ledger.events(None, end):
        if event["action"] == "audit":
            audits.append(_audit_row(event))
        in_period = datetime.fromisoformat(event["time"]) >= start
        if not in_period:
            continue
        action, result = event["action"], event["result"] or {}
        actions[action] += 1
        if action in MODEL_ACTIONS and event["backend_id"]:
            backends.add(event["backend_id"])
        if action in SEARCH_ACTIONS:
            key = (event["actor"], event["purpose"] or "", event["case"] or "")
            searches[key][action] += 1
            searches[key]["candidates"] += _count(result.get("candidates"))
        if action == "identify" and isinstance(result.get("result_id"), str):
            results[result["result_id"]] = {
                "result_id": result["result_id"],
                "time": event["time"],
                "actor": event["actor"],
                "purpose": event["purpose"],
                "case": event["case"],
                "candidates": _count(result.get("candidates")),
                "outcome": "pending",
                "reviewer": None,
                "reviewed_at": None,
            }
        elif action == "review" and result.get("result_id") in results:
            row = results[result["result_id"]]
            row["outcome"] = _outcome(result.get("decision"))
            row["reviewer"], row["reviewed_at"] = event["actor"], event["time"]
        elif action == "refused":
            refusals.append(_row(event, operation=result.get("operation"),
                                 rule=result.get("rule"), detail=result.get("detail")))
        elif action in ("erase", "purge"):
            erasures.append(_row(event, action=action, summary=_compact(result)))
        elif action == "policy_change":
            policy_changes.append(_row(event, sha256=result.get("sha256")))
    search_rows = [
        {"actor": a, "purpose": p, "case": c, "identify": n["identify"], "verify": n["verify"],
         "candidates": n["candidates"]}
        for (a, p, c), n in sorted(searches.items())
    ]
    review_rows = sorted(results.values(), key=lambda r: r["time"])
    verify = ledger.verify()
    return {
        "period": {"start": start.isoformat(), "end": end.isoformat()},
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "ledger": {"path": ledger.log.describe(), "ok": verify.ok, "summary": verify.summary()},
        "events_by_action": dict(sorted(actions.items())),
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
        "erasures": erasures,
        "refusals": refusals,
        "refusals_by_rule": dict(sorted(Counter(r["rule"] for r in refusals).items())),
        "policy_changes": policy_changes,
        "backends_used": sorted(backends),
        "audits": [a for a in audits if a["backend_id"] in backends],
        "unaudited_backends": sorted(backends - {a["backend_id"] for a in audits}),
    }


def write_oversight(report: dict[str, Any], out_dir: Path) -> list[Path]:
    """Write ``oversight.html``, ``oversight.json`` and one CSV per table; return the paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / "oversight.html", out_dir / "oversight.json"]
    env = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
    html = env.from_string(_TEMPLATE).render(r=report, cols=COLUMNS)
    paths[0].write_text(html, encoding="utf-8")
    paths[1].write_text(json.dumps(report, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tables = {
        "searches": report["searches"],
        "reviews": report["reviews"]["rows"],
        "refusals": report["refusals"],
        "erasures": report["erasures"],
        "audits": report["audits"],
        "policy_changes": report["policy_changes"],
    }
    for name, rows in tables.items():
        path = out_dir / f"{name}.csv"
        with open(path, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=COLUMNS[name])
            writer.writeheader()
            writer.writerows(rows)
        paths.append(path)
    return paths


def parse_day(text: str, *, end: bool = False) -> datetime:
    """Parse a report bound: ``YYYY-MM-DD`` (UTC; as an end bound, the whole day is included)
    or a full ISO-8601 time. Raises ValueError when unparseable."""
    when = datetime.fromisoformat(text)
    if len(text) == 10 and end:
        when = when.replace(hour=23, minute=59, second=59, microsecond=999999)
    return _aware(when)


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _outcome(decision: Any) -> str:
    text = str(decision or "").lower()
    if text.startswith("confirm"):
        return "confirmed"
    if text.startswith("reject"):
        return "rejected"
    return "pending"


def _row(event: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"seq": event["seq"], "time": event["time"], "actor": event["actor"],
            "purpose": event["purpose"], "case": event["case"], **extra}


def _audit_row(event: dict[str, Any]) -> dict[str, Any]:
    result = event["result"] or {}
    return {"seq": event["seq"], "registered_at": event["time"], "actor": event["actor"],
            "backend_id": event["backend_id"], "audit_id": result.get("audit_id"),
            "created_at": result.get("created_at"), "gate_passed": result.get("gate_passed"),
            "gate_rule": result.get("gate_rule")}


def _compact(result: dict[str, Any]) -> str:
    return json.dumps(result, sort_keys=True, separators=(",", ":"))


def _totals(rows: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    totals: dict[str, Counter[str]] = defaultdict(Counter)
    for row in rows:
        for field in ("identify", "verify", "candidates"):
            totals[row[key]][field] += row[field]
    return [{key: k, **v} for k, v in sorted(totals.items())]


COLUMNS = {
    "searches": ["actor", "purpose", "case", "identify", "verify", "candidates"],
    "reviews": ["result_id", "time", "actor", "purpose", "case", "candidates", "outcome",
                "reviewer", "reviewed_at"],
    "refusals": ["seq", "time", "actor", "operation", "rule", "purpose", "case", "detail"],
    "erasures": ["seq", "time", "actor", "action", "purpose", "case", "summary"],
    "audits": ["audit_id", "backend_id", "created_at", "registered_at", "actor", "gate_passed",
               "gate_rule", "seq"],
    "policy_changes": ["seq", "time", "actor", "sha256", "purpose", "case"],
}

_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>faceaudit oversight report {{ r.period.start[:10] }} – {{ r.period.end[:10] }}</title>
<style>
body{font-family:system-ui,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem}
table{border-collapse:collapse;margin:.5rem 0 1.5rem}
th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:left}th{background:#f3f3f3}
.bad{color:#a00;font-weight:bold}.ok{color:#070}
</style></head><body>
<h1>Oversight report</h1>
<p>Period: {{ r.period.start }} to {{ r.period.end }} (end exclusive).
Generated {{ r.generated_at }}.</p>
<p>Ledger <code>{{ r.ledger.path }}</code>:
<span class="{{ 'ok' if r.ledger.ok else 'bad' }}">{{ r.ledger.summary }}</span></p>
{% macro table(rows, columns) %}
{% if rows %}<table><tr>{% for c in columns %}<th>{{ c }}</th>{% endfor %}</tr>
{% for row in rows %}<tr>
{% for c in columns %}<td>{{ row[c] if row[c] is not none else '' }}</td>{% endfor %}
</tr>{% endfor %}</table>{% else %}<p>None.</p>{% endif %}
{% endmacro %}
{% set totals = ["identify", "verify", "candidates"] %}
<h2>Searches per actor, purpose and case</h2>
{{ table(r.searches, cols.searches) }}
<h3>Per actor</h3>{{ table(r.searches_by_actor, ["actor"] + totals) }}
<h3>Per purpose</h3>{{ table(r.searches_by_purpose, ["purpose"] + totals) }}
<h3>Per case</h3>{{ table(r.searches_by_case, ["case"] + totals) }}
<h2>Human review of identification leads</h2>
<p>{{ r.candidates.identifications }} identifications returned {{ r.candidates.total }} candidates
(at most {{ r.candidates.max }} in one). Confirmed: {{ r.reviews.confirmed }}, rejected:
{{ r.reviews.rejected }}, <span class="{{ 'bad' if r.reviews.pending else '' }}">pending:
{{ r.reviews.pending }}</span>.</p>
{{ table(r.reviews.rows, cols.reviews) }}
<h2>Erasures and purges</h2>
{{ table(r.erasures, cols.erasures) }}
<h2>Refused operations</h2>
{{ table(r.refusals, cols.refusals) }}
<h2>Policy changes</h2>
{{ table(r.policy_changes, cols.policy_changes) }}
<h2>Models used and their audits</h2>
<p>Backends used in the period: {{ r.backends_used | join(", ") or "none" }}.
{% if r.unaudited_backends %}
<span class="bad">Never audited: {{ r.unaudited_backends | join(", ") }}.</span>
{% endif %}</p>
{{ table(r.audits, cols.audits) }}
</body></html>
"""
