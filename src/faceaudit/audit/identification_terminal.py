"""What ``faceaudit audit --mode identification`` prints: per probe group FPIR / FNIR /
rank-1 at the primary operating point, the summaries, where false candidates come from, and
FPIR against gallery size (measured beside predicted); with ``--json``, one JSON line."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console
from rich.table import Table

from faceaudit.audit.identification_gate import primary_point
from faceaudit.audit.terminal import format_estimate, print_gate, print_worst_group_points


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3g}"


def identification_headline(report: dict, console: Console) -> None:
    """The headline of an identification audit (stdout)."""
    section = report["identification"]
    point = primary_point(section["operating_points"])
    if point is None:
        return
    target = point["target_fmr"]
    table = Table(title=(
        f"faceaudit identification audit at FMR {target:g} (threshold {point['threshold']:.4g}, "
        f"{point['candidates']} candidates, gallery of {point['gallery_size']:,} subjects, "
        f"{section['protocol']['repeats']} splits)"))
    for col in ("probe group", "FPIR [95% CI]", "FNIR [95% CI]", "rank-1 hit rate",
                "searches non-mated / mated"):
        table.add_column(col)
    for g in point["groups"]:
        table.add_row(g["group"], format_estimate(g["fpir"]), format_estimate(g["fnir"]),
                      format_estimate(g["rank1_hit_rate"]),
                      f"{g['non_mated_searches']:,} / {g['mated_searches']:,}")
    console.print(table)
    if any(g["fpir"].get("small_sample") or g["fnir"].get("small_sample")
           for g in point["groups"]):
        minimum = report["provenance"].get("min_identities")
        console.print(f"! rests on fewer than {minimum} identities: read with care")
    for key in ("fpir_ratio", "fnir_ratio"):
        s = point["summaries"].get(key)
        if s is not None:
            note = f" ({s['note']})" if s["value"] is None and s.get("note") else ""
            console.print(f"{key}: {format_estimate(s)}{note}")
    comp = point["false_candidates"]
    for a, probe in enumerate(comp["groups"]):
        parts = [f"{cand} {_pct(comp['fpir'][a][b])}" for b, cand in enumerate(comp["groups"])]
        console.print(f"non-mated searches by {probe} returning an innocent candidate of: "
                      + ", ".join(parts))
    for size in point["gallery_sizes"]:
        kind = "measured" if size["measured"] else "predicted only"
        parts = []
        for g in size["groups"]:
            measured = _pct(g["fpir"]["value"]) if g["fpir"] else "—"
            parts.append(f"{g['group']} {measured} (predicted {_pct(g['predicted_fpir'])})")
        console.print(f"FPIR at N={size['size']:,} ({kind}): " + ", ".join(parts), markup=False)
    print_worst_group(section, console)
    print_gate(report, console)


def print_worst_group(section: dict, console: Console) -> None:
    """Per target FPIR (``--operating-points``): the worst-group threshold and each probe
    group's FPIR and FNIR there."""
    print_worst_group_points(section.get("worst_group") or [], console, target="target_fpir",
                             rates=("FPIR", "FNIR"))


def identification_json(report: dict, out: Path) -> str:
    """One line of JSON: where the report is, the gate, the warnings, and per operating point
    each group's FPIR/FNIR/rank-1, the summaries, the composition and the gallery sizes."""
    section = report["identification"]
    summary = {
        "schema": report["schema"],
        "mode": "identification",
        "report": str(out / "report.json"),
        "html": str(out / "report.html"),
        "gate": report["gate"],
        "warnings": report["warnings"],
        "protocol": section["protocol"],
        "gallery": section["gallery"],
        "operating_points": [
            {k: p[k] for k in ("target_fmr", "threshold", "threshold_source", "candidates",
                               "gallery_size", "groups", "summaries", "false_candidates",
                               "gallery_sizes")}
            for p in section["operating_points"]
        ],
    }
    if "worst_group" in section:  # --operating-points
        summary["worst_group"] = section["worst_group"]
    return json.dumps(summary, allow_nan=False)
