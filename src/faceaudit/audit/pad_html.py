"""The PAD part of ``report.html``: the view model that ``templates/pad.html.j2`` renders from
the report's ``pad`` section (per operating point: each group's BPCER, APCER of its worst
species and IAPMR with intervals; APCER per group and species; the summaries). Presenting
only: nothing is recomputed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from faceaudit.audit import html_parts as hp
from faceaudit.audit.fairness import PAD_SUMMARY_KEYS
from faceaudit.audit.pad_rates import COMBINED

SUMMARY_LABELS = {
    f"{rate}_{suffix}": f"{rate.upper()} {label}"
    for rate in ("bpcer", "apcer", "iapmr")
    for suffix, label in (("ratio", "max/min ratio"), ("max_geomean", "max / geometric mean"),
                          ("difference", "max − min"))
} | {"inequity": "Inequity rate (APCER ratio^α · BPCER ratio^(1−α))",
     "fdr": "FDR over APCER and BPCER", "garbe": "GARBE over APCER and BPCER"}


def _point_name(p: Mapping[str, Any]) -> str:
    if p.get("apcer_target") is None:
        return f"the given threshold {hp.threshold(p.get('threshold'))}"
    return f"{p['label']} (APCER ≤ {hp.num(p['apcer_target'])})"


def pad_view(section: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Tables, notes and headlines of the PAD section; None without one."""
    if not section or not section.get("operating_points"):
        return None
    points = section["operating_points"]
    primary = next((p for p in points if p["label"] == section.get("primary")), points[0])
    presentations = section.get("presentations") or {}
    attacks = presentations.get("attacks") or {}
    convention = section.get("convention") or {}
    notes = [
        f"{hp.count(presentations.get('bona_fide'))} bona fide presentations and "
        + ", ".join(f"{hp.count(n)} {s}" for s, n in attacks.items())
        + f" attack presentations from {hp.count(presentations.get('subjects'))} subjects "
        "(a subject in two groups counts in each).",
        f"A presentation is accepted as bona fide when {convention.get('accepted_as_bona_fide')}."
        " APCER: share of a species' attack presentations accepted; a group's APCER is its "
        "worst species' (ISO/IEC 30107-3's APCER_PAIS). BPCER: share of bona fide presentations "
        "rejected. BPCERx: BPCER at the one global threshold where every species' APCER over all "
        "groups is at most 1/x.",
        "Brackets: 95% intervals resampling subjects within their group (docs/metrics.md).",
    ]
    iapmr = section.get("iapmr")
    if iapmr:
        notes.append(f"IAPMR: share of attacks with a comparison score that are accepted by PAD "
                     f"and match ({iapmr.get('match')}, threshold "
                     f"{hp.threshold(iapmr.get('comparison_threshold'))}, "
                     f"{iapmr.get('threshold_source')}).")
    return {
        "notes": notes,
        "headlines": [_headline(primary)],
        "rate_tables": [_rates_table(p, bool(iapmr)) for p in points],
        "species_table": _species_table(primary, list(section.get("species") or [])),
        "summary_table": _summary_table(points),
    }


def _headline(p: Mapping[str, Any]) -> str:
    groups = "; ".join(f"{g['group']} BPCER {hp.estimate(g['bpcer'])}, APCER "
                       f"{hp.estimate(g['apcer'])}" for g in p["groups"])
    ratio = (p.get("summaries") or {}).get("bpcer_ratio")
    return (f"PAD at {_point_name(p)}: {groups}. BPCER max/min ratio "
            f"{hp.estimate(ratio)}.")


def _rates_table(p: Mapping[str, Any], iapmr: bool) -> dict[str, Any]:
    rows = []
    for g in p["groups"]:
        cells = [str(g["group"]), hp.estimate_cell(g["bpcer"]), hp.estimate_cell(g["apcer"]),
                 str(g.get("apcer_species") or hp.DASH)]
        if iapmr:
            cells.append(hp.estimate_cell(g.get("iapmr")))
        cells += [hp.count(g.get("bona_fide_presentations")),
                  hp.count(sum((g.get("attack_presentations") or {}).values())),
                  hp.count(g.get("bona_fide_subjects"))]
        rows.append(hp.row(cells, "muted" if g.get("small_sample") else ""))
    headers = ["Group", "BPCER [95% CI]", "APCER, worst species [95% CI]", "Worst species"]
    headers += ["IAPMR [95% CI]"] if iapmr else []
    headers += ["Bona fide", "Attacks", "Bona fide subjects"]
    support = "" if p.get("supported") else " — not supported: too few attacks per species"
    return hp.table(f"PAD error rates per group at {_point_name(p)}, threshold "
                    f"{hp.threshold(p.get('threshold'))}{support}", headers, rows)


def _species_table(p: Mapping[str, Any], species: Sequence[str]) -> dict[str, Any]:
    rows = [hp.row([str(g["group"])] + [hp.estimate_cell(g["species"].get(s)) for s in species])
            for g in p["groups"]]
    overall = p.get("overall") or {}
    rows.append(hp.row(["all groups"] + [hp.estimate_cell((overall.get("species") or {}).get(s))
                                         for s in species], "muted"))
    return hp.table(f"APCER per group and attack species at {_point_name(p)}",
                    ["Group", *species], rows)


def _summary_table(points: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    rows = []
    for key in (*PAD_SUMMARY_KEYS, *COMBINED):
        cells = [(p.get("summaries") or {}).get(key) for p in points]
        if all(c is None for c in cells):
            continue
        rows.append(hp.row([SUMMARY_LABELS[key]] + [hp.estimate_cell(c) for c in cells]))
    return hp.table("PAD differentials between groups (95% intervals: log-scale from the "
                    "groups' intervals for the ratios, bootstrap percentiles for a difference)",
                    ["Summary", *[str(p["label"]) for p in points]], rows)
