"""The printable page of a case bundle (``case.html``): the case's timeline, each search's
candidate list (rank, score), reviews, actions and authorisations, and what was in force."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment

_TEMPLATE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Case {{ b.case }} — faceaudit disclosure</title>
<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}
table{border-collapse:collapse;margin:.5rem 0 1.5rem}
th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;vertical-align:top}
td.what{overflow-wrap:anywhere}
pre{white-space:pre-wrap;overflow-wrap:anywhere;background:#f7f7f7;padding:.5rem}
</style></head><body>
<h1>Case {{ b.case }}</h1>
<p>Face recognition was used in this case. System: {{ b.system.name }} {{ b.system.version }};
models: {% for backend, sha in b.system.backends.items() %}{{ backend }} (model SHA-256
{{ sha or "unknown" }}){% if not loop.last %}, {% endif %}{% endfor %}. Exported
{{ b.exported_at }}. Every event below carries an inclusion proof under a signed tree head:
check the bundle with <code>faceaudit case verify FOLDER --public-key KEY</code>.</p>
<h2>Timeline</h2>
<table><tr><th>event</th><th>time</th><th>who</th><th>what</th></tr>
{% for item in b.events %}{% set e = item.event %}<tr><td>{{ e.seq }}</td><td>{{ e.time }}</td>
<td>{{ e.actor }}</td><td class="what">
{{ e.action }}{% if e.result %}: {{ e.result | tojson }}{% endif %}
</td></tr>{% endfor %}</table>
<h2>Candidate lists</h2>
{% for result_id, result in b.results.items() %}<h3>Search {{ result_id }}</h3>
<p>Threshold {{ result.threshold }} (FMR target {{ result.fmr_target }}),
{{ result.backend_id }}.</p>
{% for face in result.faces %}<p>Face {{ loop.index0 }}:
{% if face.candidates %}</p><table><tr><th>rank</th><th>candidate</th><th>score</th></tr>
{% for c in face.candidates %}<tr><td>{{ c.rank }}</td><td>{{ c.subject_id or "(erased)" }}</td>
<td>{{ c.score }}</td></tr>{% endfor %}</table>{% else %}no candidate.</p>{% endif %}
{% endfor %}{% else %}<p>No search of this case returned a stored candidate list.</p>{% endfor %}
<h2>Policies in force</h2>
{% for sha, text in b.policies.items() %}<h3>{{ sha[:12] }}</h3><pre>{{ text }}</pre>
{% else %}<p>The default policy.</p>{% endfor %}
<h2>Audits relied on</h2>
<p>{{ b.audits | length }} audit report(s) included in case.json (by their SHA-256).</p>
</body></html>
"""


def render_case_page(bundle: dict[str, Any]) -> str:
    """The printable HTML page of ``bundle``, as text."""
    env = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
    return env.from_string(_TEMPLATE).render(b=bundle)


def write_case_page(bundle: dict[str, Any], path: Path) -> Path:
    """Write the printable HTML page of ``bundle`` to ``path``; return it."""
    Path(path).write_text(render_case_page(bundle), encoding="utf-8")
    return Path(path)
