"""The identification part of ``report.html``: the view model that
``templates/identification.html.j2`` renders from the report's ``identification`` section
(tables of FPIR / FNIR / rank-1 per probe group with intervals, the summaries, the
false-candidate composition, FPIR against gallery size) and its three figures."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from markupsafe import Markup

from faceaudit.audit import html_parts as hp
from faceaudit.audit import identification_plots as plots
from faceaudit.audit.identification_gate import primary_point

_SUMMARY_LABELS = {
    "fpir_ratio": "FPIR max/min ratio",
    "fnir_ratio": "FNIR max/min ratio",
    "fpir_difference": "FPIR max − min",
    "fnir_difference": "FNIR max − min",
    "inequity": "Inequity rate (FPIR ratio^α · FNIR ratio^(1−α))",
    "fdr": "FDR (fairness discrepancy rate)",
    "garbe": "GARBE (Gini aggregation rate)",
    "fpir_max_geomean": "FPIR max / geometric mean",
    "fnir_max_geomean": "FNIR max / geometric mean",
}


def identification_view(section: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Tables, notes and figures of the identification section; None without one."""
    if not section or not section.get("operating_points"):
        return None
    points = section["operating_points"]
    primary = primary_point(points)
    assert primary is not None
    protocol = section.get("protocol") or {}
    gallery = section.get("gallery") or {}
    at = hp.target(primary.get("target_fmr"))
    groups = [str(g["group"]) for g in primary["groups"]]
    notes = [
        f"{protocol.get('repeats')} seeded splits of the {gallery.get('identities', '?'):,} "
        f"identities: {gallery.get('subjects', 0):,} enrolled per split "
        f"({protocol.get('gallery_templates')} template(s) each, {gallery.get('templates', 0):,} "
        "templates), the others' images searched as non-mated probes; the enrolled identities' "
        "other images are mated probes.",
        f"Searches run through faceaudit's own exact 1:N search ({protocol.get('search')}), "
        f"returning up to {primary.get('candidates')} candidates at or above the threshold.",
        "FPIR: share of non-mated searches returning any candidate (an innocent person). "
        "FNIR: share of mated searches whose mate is not among the candidates. Brackets: 95% "
        "intervals resampling identities within each probe group.",
    ]
    return {
        "notes": notes,
        "rate_tables": [_rates_table(p) for p in points],
        "summary_table": _summary_table(points),
        "rates_figure": _rates_figure(primary, groups, at),
        "composition_figure": _composition_figure(primary, at),
        "composition_table": _composition_table(primary, at),
        "size_figure": _size_figure(primary, at),
        "size_table": _size_table(primary, at),
        "worst_group_tables": worst_group_tables(section.get("worst_group") or []),
    }


def worst_group_tables(entries: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One table per target FPIR of ``--operating-points``: each grid threshold with every
    probe group's FPIR and FNIR and the ratios, the recommended row marked."""
    tables = []
    for entry in entries:
        grid = entry.get("grid") or []
        if not grid:
            continue
        groups = [str(g["group"]) for g in grid[0]["groups"]]
        headers = (["Threshold", "1:1 FMR level", "Recommended"]
                   + [f"FPIR {g}" for g in groups] + [f"FNIR {g}" for g in groups]
                   + ["FPIR ratio", "FNIR ratio"])
        rows = [
            hp.row(
                [hp.num(p.get("threshold"), ".6g"), hp.num(p.get("fmr_level")),
                 "yes" if p.get("recommended") else ""]
                + [hp.estimate_cell(g.get("fpir")) for g in p["groups"]]
                + [hp.estimate_cell(g.get("fnir")) for g in p["groups"]]
                + [hp.estimate_cell((p.get("summaries") or {}).get(k))
                   for k in ("fpir_ratio", "fnir_ratio")],
                "" if p.get("recommended") else "muted",
            )
            for p in grid
        ]
        chosen = entry.get("recommended_threshold")
        caption = (f"Target FPIR {hp.target(entry.get('target_fpir'))} ({entry.get('candidates')}"
                   f" candidates, gallery of {entry.get('gallery_size', 0):,} subjects): "
                   "worst-group threshold "
                   + (hp.num(chosen, ".6g") if chosen is not None
                      else f"none ({entry.get('note')})"))
        tables.append(hp.table(caption, headers, rows))
    return tables


def _rates_table(point: Mapping[str, Any]) -> dict[str, Any]:
    rows = [
        hp.row([str(g["group"]), hp.estimate_cell(g["fpir"]), hp.estimate_cell(g["fnir"]),
                hp.estimate_cell(g["rank1_hit_rate"]), hp.estimate_cell(g["fmr"]),
                f"{hp.count(g['non_mated_searches'])} / {hp.count(g['mated_searches'])}",
                f"{hp.count(g['non_mated_identities'])} / {hp.count(g['mated_identities'])}"])
        for g in point["groups"]
    ]
    return hp.table(
        f"Per probe group at target FMR {hp.target(point.get('target_fmr'))} (threshold "
        f"{hp.threshold(point['threshold'])}, {point['candidates']} candidates, gallery of "
        f"{point['gallery_size']:,} subjects; threshold from {point.get('threshold_source')})",
        ["Probe group", "FPIR [95% CI]", "FNIR [95% CI]", "Rank-1 hit rate",
         "1:1 FMR vs enrolled", "Searches non-mated / mated", "Identities non-mated / mated"],
        rows,
    )


def _summary_table(points: list[Mapping[str, Any]]) -> dict[str, Any]:
    keys = [k for k in _SUMMARY_LABELS if any(k in p["summaries"] for p in points)]
    rows = [hp.row([_SUMMARY_LABELS[k]] + [hp.estimate_cell(p["summaries"].get(k)) for p in points])
            for k in keys]
    return hp.table("Summaries over probe groups [95% CI]", ["Summary"]
                    + [f"FMR {hp.target(p.get('target_fmr'))}" for p in points], rows)


def _rates_figure(point: Mapping[str, Any], groups: list[str], at: str) -> dict[str, str]:
    fpir = [g["fpir"] for g in point["groups"]]
    fnir = [g["fnir"] for g in point["groups"]]
    described = "; ".join(
        f"{name}: FPIR {hp.num(a.get('value'))}, FNIR {hp.num(b.get('value'))}"
        for name, a, b in zip(groups, fpir, fnir, strict=True))
    return {
        "src": plots.rates_plot(groups, {"FPIR": fpir, "FNIR": fnir}),
        "alt": f"Bar charts of FPIR and FNIR per probe group at target FMR {at}: {described}.",
        "caption": f"FPIR and FNIR per probe group at target FMR {at}; error bars are the 95% "
                   "intervals.",
    }


def _composition_figure(point: Mapping[str, Any], at: str) -> dict[str, str]:
    comp = point["false_candidates"]
    labels = [str(g) for g in comp["groups"]]
    cells = "; ".join(f"{a} probes, {b} candidates: {hp.num(comp['fpir'][i][j])}"
                      for i, a in enumerate(labels) for j, b in enumerate(labels))
    return {
        "src": plots.composition_heatmap(comp["fpir"], labels,
                                         f"Innocent candidates, target FMR {at}")[0],
        "alt": f"Heatmap of the share of non-mated searches returning an innocent candidate, "
               f"by probe group (rows) and candidate group (columns), at target FMR {at}: "
               f"{cells}.",
        "caption": "Composition of false candidates: share of non-mated searches of each probe "
                   "group (row) returning at least one innocent candidate of each group "
                   "(column); one log colour scale, 0 hatched.",
    }


def _composition_table(point: Mapping[str, Any], at: str) -> dict[str, Any]:
    comp = point["false_candidates"]
    labels = [str(g) for g in comp["groups"]]
    rows = []
    for i, a in enumerate(labels):
        cells = []
        for j in range(len(labels)):
            est = {"value": comp["fpir"][i][j], "low": comp["fpir_low"][i][j],
                   "high": comp["fpir_high"][i][j]}
            cells.append(_composition_cell(hp.estimate_cell(est), comp["counts"][i][j],
                                     comp["per_search"][i][j]))
        rows.append(hp.row([a, *cells, hp.count(comp["non_mated_searches"][i])]))
    return hp.table(
        f"False candidates at target FMR {at}: share of searches [95% CI] · candidates "
        "(per search), by probe group (row) and candidate group (column)",
        ["Probe group", *labels, "Non-mated searches"], rows,
    )


def _composition_cell(cell: str, count: int, per_search: float | None) -> str:
    """A composition cell: the share with its interval, then the count and rate per search."""
    return Markup("{} · {} ({} per search)").format(cell, f"{count:,}", hp.num(per_search))


def _size_figure(point: Mapping[str, Any], at: str) -> dict[str, str]:
    sizes = [s["size"] for s in point["gallery_sizes"]]
    groups = [str(g["group"]) for g in point["groups"]]
    measured = {g: [s["groups"][i]["fpir"] for s in point["gallery_sizes"]]
                for i, g in enumerate(groups)}
    predicted = {g: [s["groups"][i]["predicted_fpir"] for s in point["gallery_sizes"]]
                 for i, g in enumerate(groups)}
    return {
        "src": plots.gallery_size_plot(sizes, measured, predicted),
        "alt": f"Log-log plot of FPIR against gallery size per probe group at target FMR {at}, "
               "measured points with intervals and dashed predictions assuming independence.",
        "caption": "FPIR against gallery size (log axes): markers are measured (subsampled "
                   "galleries and the audited size), dashed lines the prediction "
                   "1 − (1 − FMR)^N from each group's 1:1 FMR, which assumes the comparisons of "
                   "one search are independent.",
    }


def _size_table(point: Mapping[str, Any], at: str) -> dict[str, Any]:
    groups = [str(g["group"]) for g in point["groups"]]
    rows = []
    for s in point["gallery_sizes"]:
        cells = []
        for entry in s["groups"]:
            measured = hp.estimate_cell(entry["fpir"]) if entry["fpir"] else "not measured"
            cells.append(Markup("{} · predicted {}").format(measured,
                                                            hp.num(entry["predicted_fpir"])))
        rows.append(hp.row([f"{s['size']:,}" + ("" if s["measured"] else " (prediction only)"),
                            *cells]))
    return hp.table(f"FPIR by gallery size at target FMR {at}: measured [95% CI] · predicted "
                    "(independence)", ["Gallery size", *groups], rows)
