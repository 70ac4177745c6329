"""The public transparency report's files and terminal summary: the built report in
(:func:`faceaudit.deployment.transparency.build_transparency`), text out.

``transparency.json`` is the report itself; ``transparency.csv`` holds every published figure
one per line (table, row, period, value — ``total`` for a row's total, the population's row
for the column totals); ``transparency.html`` lays the tables out in the template's sections.
Suppressed figures read ``< k`` or ``withheld`` in every file.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from jinja2 import Environment

CSV_COLUMNS = ("table", "row", "class", "period", "value")


def write_transparency(report: dict[str, Any], out_dir: Path) -> list[Path]:
    """Write ``transparency.json``, ``.csv`` and ``.html`` into ``out_dir``; return the
    paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"transparency.{ext}" for ext in ("json", "csv", "html")]
    paths[0].write_text(json.dumps(report, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    paths[1].write_text(transparency_csv(report), encoding="utf-8")
    paths[2].write_text(transparency_html(report), encoding="utf-8")
    return paths


def transparency_csv(report: dict[str, Any]) -> str:
    """Every published figure, one per line (:data:`CSV_COLUMNS`)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for table in report["tables"]:
        lines = [*table["rows"], *([table["totals"]] if table["totals"] else [])]
        for line in lines:
            for period, value in zip([*table["columns"], "total"],
                                     [*line["values"], line["total"]], strict=True):
                writer.writerow((table["name"], line["label"], line.get("class", ""), period,
                                 value))
    return buffer.getvalue()


def transparency_html(report: dict[str, Any]) -> str:
    """The printable page: the template's sections, each with its tables."""
    env = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
    tables = {t["name"]: t for t in report["tables"]}
    return env.from_string(_TEMPLATE).render(r=report, tables=tables)


def terminal_summary(report: dict[str, Any], paths: list[Path] | None = None) -> str:
    """A few lines for the terminal: the period, the searches per period, what was
    suppressed, the ledger's state and the files written."""
    period, sup = report["period"], report["suppression"]
    searches = next(t for t in report["tables"] if t["name"] == "searches_by_result")
    totals = searches["totals"]
    lines = [f"{report['template']['title']} — {report['template']['citation']}: "
             f"{period['from'][:10]} to {period['to'][:10]} (end exclusive), by "
             f"{period['unit']}",
             "searches: " + ", ".join(f"{c} {v}" for c, v in zip(
                 period["columns"], totals["values"], strict=True))
             + f"; total {totals['total']}",
             f"suppressed below k={sup['k']}: {sup['primary']} cells, {sup['complementary']} "
             "more withheld so none can be recovered",
             report["integrity"]["summary"]]
    lines += [str(p) for p in paths or []]
    return "\n".join(lines)


_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{{ r.template.title }} {{ r.period.from[:10] }} – {{ r.period.to[:10] }}</title>
<style>
body{font-family:system-ui,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem}
table{border-collapse:collapse;margin:.5rem 0 1.5rem;display:block;max-width:100%;overflow-x:auto}
table{font-size:.9rem}th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:right;
white-space:nowrap}
th:first-child,td:first-child{text-align:left}th{background:#f3f3f3}
tr.total td{font-weight:bold}.asks{color:#444;font-style:italic}.note{color:#444}
.bad{color:#a00;font-weight:bold}.ok{color:#070}
</style></head><body>
<h1>{{ r.template.title }}</h1>
<p>Template {{ r.template.name }} ({{ r.template.citation }}).
Period: {{ r.period.from }} to {{ r.period.to }} (end exclusive),
by {{ r.period.unit }}. Generated {{ r.generated_at }} by {{ r.system.name }}
{{ r.system.version }}.</p>
<p class="note">Small numbers: {{ r.suppression.rule }} Here k = {{ r.suppression.k }}.</p>
{% for note in r.template.notes %}<p class="note">{{ note }}</p>{% endfor %}
{% macro table(t) %}
<h3>{{ t.title }}</h3>
{% if t.rows %}<table><tr><th>{{ "rule" if t.name == "refusals_by_rule" else "" }}</th>
{% for c in t.columns %}<th>{{ c }}</th>{% endfor %}<th>total</th></tr>
{% for row in t.rows %}<tr><td>{{ row.label }}{% if row.class %} ({{ row["class"] }}){% endif %}
</td>{% for v in row["values"] %}<td>{{ v }}</td>{% endfor %}<td>{{ row.total }}</td></tr>
{% endfor %}
{% if t.totals %}<tr class="total"><td>{{ t.totals.label }}</td>
{% for v in t.totals["values"] %}<td>{{ v }}</td>{% endfor %}<td>{{ t.totals.total }}</td></tr>
{% endif %}</table>{% else %}<p>None in the period.</p>{% endif %}
{% endmacro %}
{% for s in r.template.sections %}
<section><h2>{{ s.heading }}</h2><p class="asks">{{ s.asks }}</p>
{% if s.system %}<p>System: {{ r.system.name }} {{ r.system.version }}; models:
{{ r.system.backends_used | join(", ") or "none used in the period" }}. Database searched:
{{ r.system.database.name }} — {{ r.system.database.description }}
{% if r.system.database.templates_at_last_search is not none %}({{
r.system.database.templates_at_last_search }} templates at the last search){% endif %}.</p>
{% endif %}
{% for name in s.tables %}{{ table(tables[name]) }}{% endfor %}
{% if s.audits %}<h3>Audits in force at the end of each period</h3>
<table><tr><th>period</th><th>audit</th><th>model</th><th>mode</th><th>created</th>
<th>passes the policy now</th><th>headline ratios</th></tr>
{% for p in r.audits_in_force %}{% for a in p.audits %}<tr><td>{{ p.period }}</td>
<td>{{ a.audit_id }}</td><td>{{ a.backend_id }}</td><td>{{ a.mode }}</td>
<td>{{ a.created_at }}</td><td>{{ a.passes_policy_now }}</td>
<td>{% if a.ratios %}{% for k, v in a.ratios.items() %}{{ k }} {{ v }}{{ "; " if not loop.last
}}{% endfor %}{% else %}{{ a.note }}{% endif %}</td></tr>
{% else %}<tr><td>{{ p.period }}</td><td colspan="6" class="bad">no audit registered</td></tr>
{% endfor %}{% endfor %}</table>{% endif %}
{% if s.integrity %}<p>Ledger: <span class="{{ 'ok' if r.integrity.ledger_intact else 'bad' }}">
{{ r.integrity.summary }}</span></p>{% endif %}
{% for note in s.notes %}<p class="note">{{ note }}</p>{% endfor %}
</section>
{% endfor %}
<h2>Demographic breakdown</h2><p>{{ r.template.demographics }}</p>
</body></html>
"""
