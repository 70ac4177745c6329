"""The oversight report: who searched for whom, why, with which model, and was it audited.

:func:`build_oversight` reads the period's events and adds the report's frame (period, time,
the ledger's verification) to their counts (:mod:`faceaudit.ledger.oversight_counts`, pure);
:func:`write_oversight` writes the report's files.
"""

from __future__ import annotations

import csv
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment
from markupsafe import Markup, escape

from faceaudit.ledger.oversight_counts import tally_events
from faceaudit.ledger.oversight_policy import with_policy_history
from faceaudit.ledger.report_period import parse_bound
from faceaudit.ledger.signer import signer_summary
from faceaudit.ledger.store import Ledger


def build_oversight(ledger: Ledger, start: datetime, end: datetime) -> dict[str, Any]:
    """Summarise the ledger events with ``start <= time < end`` for an oversight body.

    Review outcomes are judged at ``end``: an identification with no review event before
    ``end`` is pending. Audits listed are those of the backends used in the period, registered
    at any time before ``end``. Includes the ledger's verification status. The counts and rows
    come from :func:`~faceaudit.ledger.oversight_counts.tally_events`.
    """
    start, end = _aware(start), _aware(end)
    if end <= start:
        raise ValueError("the report period is empty: end must be after start")
    sections = tally_events(ledger.events(None, end), start)
    verify = ledger.verify()
    return {
        "period": {"start": start.isoformat(), "end": end.isoformat()},
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "ledger": {"path": ledger.log.describe(), "ok": verify.ok, "summary": verify.summary(),
                   "signing_key": signer_summary(ledger.home)},
        **sections,
        "policy_changes": with_policy_history(ledger.home, sections["policy_changes"]),
    }


def write_oversight(report: dict[str, Any], out_dir: Path) -> list[Path]:
    """Write ``oversight.html``, ``oversight.json`` and one CSV per table; return the paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / "oversight.html", out_dir / "oversight.json"]
    env = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
    env.filters["breakable"] = breakable
    html = env.from_string(_TEMPLATE).render(r=report, cols=COLUMNS, views=VIEWS)
    paths[0].write_text(html, encoding="utf-8")
    paths[1].write_text(json.dumps(report, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tables = {
        "searches": report["searches"],
        "reviews": report["reviews"]["rows"],
        "refusals": report["refusals"],
        "erasures": report["erasures"],
        "audits": report["audits"],
        "policy_changes": report["policy_changes"],
        "leads": report["leads"]["rows"],
        "cases": report["cases"],
    }
    for name, rows in tables.items():
        path = out_dir / f"{name}.csv"
        with open(path, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=COLUMNS[name], extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)
        paths.append(path)
    return paths


#: a word longer than this gets a line-break opportunity every BREAK_EVERY characters
LONG_WORD, BREAK_EVERY = 16, 8


def breakable(value: Any) -> Markup:
    """A table cell's text, escaped, with line-break opportunities (``<wbr>``) inside words
    longer than :data:`LONG_WORD` characters (digests, ids, times), so a table fits the page
    without breaking ordinary words; None is blank."""
    if value is None:
        return Markup("")
    words = re.split(r"(\s+)", str(value))
    out = []
    for word in words:
        if len(word) > LONG_WORD:
            out.append(Markup("<wbr>").join(escape(word[i:i + BREAK_EVERY])
                                             for i in range(0, len(word), BREAK_EVERY)))
        else:
            out.append(escape(word))
    return Markup("").join(out)


def parse_day(text: str, *, end: bool = False) -> datetime:
    """Parse a report bound: ``YYYY-MM-DD`` (UTC; as an end bound, the whole day is included),
    ``today`` or a full ISO-8601 time (:func:`faceaudit.ledger.report_period.parse_bound`).
    Raises ValueError when unparseable."""
    return parse_bound(text, end=end)


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo else when.replace(tzinfo=UTC)


COLUMNS = {
    "searches": ["actor", "purpose", "case", "identify", "verify", "candidates"],
    "reviews": ["result_id", "time", "actor", "purpose", "case", "gate", "candidates",
                "outcome", "reviewer", "reviewed_at", "started_at", "ended_at",
                "templates_searched", "gallery_state",
                "probe_sha256", "faces_found", "authorisation", "authorisation_kind",
                "authority", "offence", "status", "state"],
    "leads": ["task_id", "result_id", "case", "face", "reviewers", "confirms", "rejects",
              "lead", "disagreement", "searched_at", "decided_at", "review_time_s", "action",
              "evidence_sha256", "actioned_by", "actioned_at", "outcome", "outcome_at"],
    "cases": ["case", "state", "searches", "candidates", "confirmed_leads", "unconfirmed",
              "disagreements", "median_review_time_s", "actioned", "outcomes"],
    "refusals": ["seq", "time", "actor", "operation", "rule", "purpose", "case", "detail"],
    "erasures": ["seq", "time", "actor", "action", "purpose", "case", "summary"],
    "audits": ["audit_id", "backend_id", "created_at", "registered_at", "actor", "gate_passed",
               "gate_rule", "seq"],
    "policy_changes": ["seq", "time", "actor", "sha256", "previous_sha256", "waived_because",
                       "text_kept", "purpose", "case"],
}

#: the search rows' Art. 12(3) use-record columns and the reviewed candidates' action columns,
#: each shown in a table of their own so that the page's tables fit its width (the CSVs keep
#: every column in one file)
USE_COLUMNS = ["started_at", "ended_at", "templates_searched", "gallery_state", "probe_sha256",
               "faces_found", "authorisation", "authorisation_kind", "authority", "offence"]
ACTION_COLUMNS = ["action", "evidence_sha256", "actioned_by", "actioned_at", "outcome",
                  "outcome_at"]
VIEWS = {"reviews": [c for c in COLUMNS["reviews"] if c not in USE_COLUMNS],
         "use": ["result_id", *USE_COLUMNS],
         "leads": [c for c in COLUMNS["leads"] if c not in ACTION_COLUMNS],
         "actions": ["task_id", "case", *ACTION_COLUMNS]}

_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>faceaudit oversight report {{ r.period.start[:10] }} – {{ r.period.end[:10] }}</title>
<style>
body{font-family:system-ui,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem}
table{border-collapse:collapse;margin:.5rem 0 1.5rem;width:100%;font-size:.85rem}
th,td{overflow-wrap:break-word}pre{white-space:pre-wrap;overflow-wrap:anywhere;background:#f7f7f7;
padding:.5rem}th,td{border:1px solid #ccc;padding:.2rem .35rem;text-align:left;vertical-align:top}
th{background:#f3f3f3}
.bad{color:#a00;font-weight:bold}.ok{color:#070}
</style></head><body>
<h1>Oversight report</h1>
<p>Period: {{ r.period.start }} to {{ r.period.end }} (end exclusive).
Generated {{ r.generated_at }}.</p>
<p>Ledger <code>{{ r.ledger.path }}</code>:
<span class="{{ 'ok' if r.ledger.ok else 'bad' }}">{{ r.ledger.summary }}</span></p>
{% if r.ledger.signing_key %}{% set key = r.ledger.signing_key %}<p>Signing key:
<span class="{{ 'ok' if key.insider_proof else 'bad' }}">{{ key.kind }}</span> —
{{ key.description }}</p>{% endif %}
{% macro table(rows, columns) %}
{% if rows %}<table><tr>{% for c in columns %}<th>{{ c | replace("_", " ") }}</th>{% endfor %}
</tr>
{% for row in rows %}<tr>
{% for c in columns %}<td>{{ row[c] | breakable }}</td>{% endfor %}
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
{{ table(r.reviews.rows, views.reviews) }}
<h3>Each search's use record (EU AI Act Art. 12(3))</h3>
{{ table(r.reviews.rows, views.use) }}
<h2>From a search to a decision, per case</h2>
<p>searched → candidates → confirmed lead (independent reviewers) → actioned on independent
evidence → outcome. Candidates reviewed: {{ r.leads.reviewed_tasks }}; decided:
{{ r.leads.decided }}; confirmed leads: {{ r.leads.confirmed }} (rate
{{ r.leads.confirmation_rate if r.leads.confirmation_rate is not none else '–' }});
disagreements: {{ r.leads.disagreements }} (rate
{{ r.leads.disagreement_rate if r.leads.disagreement_rate is not none else '–' }});
median review time: {{ r.leads.median_review_time_s if r.leads.median_review_time_s is not none
else '–' }} s; actioned: {{ r.leads.actioned }}.</p>
{{ table(r.cases, cols.cases) }}
<h3>Reviewed candidates</h3>
{{ table(r.leads.rows, views.leads) }}
<h3>Actions and outcomes of the reviewed candidates</h3>
{{ table(r.leads.rows, views.actions) }}
<h2>Erasures and purges</h2>
{{ table(r.erasures, cols.erasures) }}
<h2>Refused operations</h2>
{{ table(r.refusals, cols.refusals) }}
<h2>Policy changes</h2>
{{ table(r.policy_changes, cols.policy_changes) }}
{% for change in r.policy_changes %}
<details class="policy-change" id="policy-{{ change.seq }}"><summary>Event {{ change.seq }},
{{ change.time }}, by {{ change.actor }}{% if change.waived_because %}:
<span class="bad">waives the bias gate — "{{ change.waived_because }}"</span>{% endif %}
{% if not change.text_kept %} — <span class="bad">the policy text was not kept (or no longer
matches its hash)</span>{% endif %}</summary>
{% if change.diff %}<pre>{{ change.diff }}</pre>{% endif %}
</details>
{% endfor %}
<h2>Models used and their audits</h2>
<p>Backends used in the period: {{ r.backends_used | join(", ") or "none" }}.
{% if r.unaudited_backends %}
<span class="bad">Never audited: {{ r.unaudited_backends | join(", ") }}.</span>
{% endif %}</p>
{{ table(r.audits, cols.audits) }}
</body></html>
"""
