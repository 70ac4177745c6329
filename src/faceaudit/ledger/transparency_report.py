"""The public transparency report's published form: count tables in, the figures to publish
out, small cells suppressed (pure; the files are written by
:mod:`faceaudit.ledger.transparency_files`).

:func:`publish_tables` applies :func:`~faceaudit.ledger.suppression.suppress_tables` to every
table at once — tables of one population share their totals — and lays each out as rows of
published values (a count, ``< k`` or ``withheld``) with a total per row and, for a
population, a total row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from faceaudit.ledger.suppression import (
    COMPLEMENTARY,
    PRIMARY,
    TOTAL,
    Table,
    published,
    suppress_tables,
)
from faceaudit.ledger.transparency_counts import (
    INTEGRITY_RULES,
    POPULATIONS,
    UNAUTHORISED_RULES,
)
from faceaudit.ledger.transparency_templates import TEMPLATES, Template

FORMAT = "faceaudit.transparency/1"
TITLES = {
    "searches_by_offence": "Searches by offence investigated",
    "searches_by_purpose": "Searches by purpose recorded",
    "searches_by_result": "Searches by result",
    "searches_by_candidates": "Searches with candidates, by number of candidates returned",
    "searches_by_gate": "Searches by the bias gate's verdict",
    "searches_by_authorisation": "Searches by the authorisation they ran under",
    "verifications": "1:1 verifications",
    "leads": "Candidates confirmed as leads by independent reviewers",
    "lead_actions": "Actions on confirmed leads, by kind",
    "lead_outcomes": "Outcomes of leads, by kind",
    "refusals_by_rule": "Operations refused, by rule",
    "erasures": "Erasures and retention purges",
    "urgent_authorisations": "Urgent searches: authorisation granted, refused or late",
    "integrity": "Integrity alarms",
}
SUPPRESSION_RULE = ("A count n with 0 < n < k is printed '< k'; further counts (or totals) "
                    "are printed 'withheld' so that no suppressed count can be worked out by "
                    "subtracting published counts from a published total, along any row, "
                    "column or linked table.")


def publish_tables(tables: Sequence[Table], k: int) -> tuple[list[dict[str, Any]],
                                                             dict[str, int]]:
    """The published tables and the suppression's counts (``primary``, ``complementary``)."""
    marks = suppress_tables(tables, k)
    out = []
    for table in tables:
        entries = table.entries()

        def show(row: str, column: str, table: Table = table,
                 entries: dict[Any, int] = entries) -> int | str:
            key = table.key(row, column)
            return published(entries[key], marks.get(key), k)

        rows = [{"label": row, "values": [show(row, c) for c in table.columns],
                 "total": show(row, TOTAL), **_row_class(table.name, row)}
                for row in table.rows]
        totals = None
        if table.population is not None:
            totals = {"label": f"all {POPULATIONS[table.population]}",
                      "values": [show(TOTAL, c) for c in table.columns],
                      "total": show(TOTAL, TOTAL)}
        out.append({"name": table.name, "title": TITLES[table.name],
                    "population": table.population, "columns": list(table.columns),
                    "rows": rows, "totals": totals})
    summary = {"primary": sum(m == PRIMARY for m in marks.values()),
               "complementary": sum(m == COMPLEMENTARY for m in marks.values())}
    return out, summary


def template_named(name: str) -> Template:
    """The template ``name`` (:data:`~faceaudit.ledger.transparency_templates.TEMPLATES`);
    KeyError naming the known ones otherwise."""
    try:
        return TEMPLATES[name]
    except KeyError:
        raise KeyError(f"unknown template {name!r}: one of {', '.join(TEMPLATES)}") from None


def _row_class(table: str, row: str) -> dict[str, str]:
    """A refusal rule's class: unauthorised use, integrity alarm or other."""
    if table != "refusals_by_rule":
        return {}
    kind = ("unauthorised use" if row in UNAUTHORISED_RULES
            else "integrity" if row in INTEGRITY_RULES else "other")
    return {"class": kind}
