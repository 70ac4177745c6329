"""The HTML view of the report's ``quality`` section: per-group quality quartiles beside the
failure-to-template rate, and FNMR by quality band per group (docs/quality.md)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from faceaudit.audit import html_parts as hp


def _quartiles(q: Mapping[str, Any]) -> str:
    if q.get("median") is None:
        return hp.DASH
    return f"{q['median']:.3g} [{q['q1']:.3g}, {q['q3']:.3g}]"


def _range(bounds: list[float | None]) -> str:
    low, high = bounds
    if low is None:
        return f"< {high:.3g}"
    if high is None:
        return f"≥ {low:.3g}"
    return f"{low:.3g} – {high:.3g}"


def quality_view(section: Mapping[str, Any] | None,
                 data: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Tables for the report's quality section (None when the report has none)."""
    if not section:
        return None
    components = list(section.get("components") or [])
    ftt = {g.get("group"): g.get("ftt") for g in (data or {}).get("groups") or []}
    # one column per group, one row per component: a dozen components side by side would not
    # fit the page, while groups are few
    dist = list(section.get("distribution") or [])
    rows = [
        hp.row(["Templates", *(hp.count(g.get("templates")) for g in dist)]),
        hp.row(["Failure to template",
                *(hp.DASH if ftt.get(g["group"]) is None else f"{ftt[g['group']]:.2%}"
                  for g in dist)]),
        *(hp.row([c, *(_quartiles(g["components"].get(c, {})) for g in dist)])
          for c in components),
    ]
    tables = [hp.table("Image quality per group: median [Q1, Q3] of each component",
                       ["Component", *(str(g["group"]) for g in dist)], rows)]
    threshold = section.get("threshold")
    for entry in section.get("fnmr_by_band") or []:
        groups = [g["group"] for g in entry["bands"][0]["groups"]] if entry["bands"] else []
        band_rows = [
            hp.row([f"{cell['band']} ({_range(cell['range'])})"]
                   + [hp.estimate(g["fnmr"]) + (" !" if g["fnmr"].get("small_sample") else "")
                      for g in cell["groups"]])
            for cell in entry["bands"]
        ]
        tables.append(hp.table(
            f"FNMR by {entry['component']} band at FMR {section.get('target_fmr'):g} "
            f"(threshold {threshold!r})", ["Band", *groups], band_rows))
    return {"tables": tables, "rule": section.get("band_rule"), "note": section.get("note")}
