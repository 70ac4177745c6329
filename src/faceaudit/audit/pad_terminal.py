"""What ``faceaudit audit --pad-scores`` prints: per group BPCER, APCER (worst species) and
IAPMR at the primary operating point, BPCER at each APCER target, the summaries and the gate;
with ``--json``, one JSON line."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console
from rich.table import Table

from faceaudit.audit.terminal import format_estimate, print_gate

HEADLINE_SUMMARIES = ("bpcer_ratio", "apcer_ratio", "iapmr_ratio")


def primary_point(report: dict) -> dict | None:
    """The ``pad`` section's primary operating point."""
    section = report["pad"]
    return next((p for p in section["operating_points"] if p["label"] == section["primary"]),
                None)


def pad_headline(report: dict, console: Console) -> None:
    """The headline of a PAD audit (stdout)."""
    section = report["pad"]
    point = primary_point(report)
    if point is None:
        return
    rule = section["convention"]["accepted_as_bona_fide"].replace("threshold",
                                                                 repr(point["threshold"]))
    table = Table(title=f"faceaudit PAD audit (ISO/IEC 30107-3) at {point['label']} "
                        f"(bona fide: {rule})")
    iapmr = section.get("iapmr") is not None
    columns = ["group", "BPCER [95% CI]", "APCER worst species [95% CI]", "species"]
    columns += ["IAPMR [95% CI]"] if iapmr else []
    columns += ["subjects bona fide"]
    for col in columns:
        table.add_column(col)
    for g in point["groups"]:
        cells = [g["group"], format_estimate(g["bpcer"]), format_estimate(g["apcer"]),
                 g["apcer_species"] or "—"]
        cells += [format_estimate(g["iapmr"])] if iapmr else []
        cells += [str(g["bona_fide_subjects"])]
        table.add_row(*cells)
    console.print(table)
    if any(g.get("small_sample") for g in point["groups"]):
        minimum = report["provenance"].get("min_identities")
        console.print(f"! rests on fewer than {minimum} subjects: read with care")
    for key in HEADLINE_SUMMARIES:
        s = point["summaries"].get(key)
        if s is not None:
            note = f" ({s['note']})" if s["value"] is None and s.get("note") else ""
            console.print(f"{key}: {format_estimate(s)}{note}", markup=False)
    for p in section["operating_points"]:
        if p["apcer_target"] is None:
            continue
        flag = "" if p["supported"] else " (not supported: too few attacks per species)"
        console.print(f"{p['label']}: BPCER {format_estimate(p['overall']['bpcer'])} at "
                      f"threshold {p['threshold']!r}{flag}", markup=False, highlight=False)
    print_gate(report, console)


def pad_json(report: dict, out: Path) -> str:
    """One line of JSON: where the report is, the gate, the warnings and the ``pad`` section."""
    return json.dumps({
        "schema": report["schema"],
        "mode": "pad",
        "report": str(out / "report.json"),
        "html": str(out / "report.html"),
        "gate": report["gate"],
        "warnings": report["warnings"],
        "pad": report["pad"],
    }, allow_nan=False)
