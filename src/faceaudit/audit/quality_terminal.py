"""What ``faceaudit audit`` prints of the report's ``quality`` section: per group the median
inter-eye distance and sharpness, then FNMR by inter-eye-distance band (docs/quality.md)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from faceaudit.audit.terminal import format_estimate

#: the components whose medians the terminal shows
SHOWN = ("inter_eye_distance_px", "sharpness", "yaw_deg")


def print_quality(report: dict, console: Console) -> None:
    """The quality section as two small tables; nothing when the report has none."""
    section = report.get("quality")
    if not section:
        return
    shown = [c for c in SHOWN if c in section["components"]]
    table = Table(title="image quality per group: median [Q1, Q3]")
    for col in ("group", *shown):
        table.add_column(col)
    for row in section["distribution"]:
        cells = []
        for comp in shown:
            q = row["components"][comp]
            cells.append("n/a" if q["median"] is None
                         else f"{q['median']:.3g} [{q['q1']:.3g}, {q['q3']:.3g}]")
        table.add_row(row["group"], *cells)
    console.print(table)
    for entry in section["fnmr_by_band"][:1]:
        bands = Table(title=f"FNMR by {entry['component']} band (tertiles; a pair is in the band "
                            "of its worse image)")
        bands.add_column("band")
        for g in entry["bands"][0]["groups"]:
            bands.add_column(g["group"])
        for cell in entry["bands"]:
            low, high = cell["range"]
            span = (f"< {high:.3g}" if low is None else f">= {low:.3g}" if high is None
                    else f"{low:.3g}-{high:.3g}")
            bands.add_row(f"{cell['band']} ({span})",
                          *(format_estimate(g["fnmr"]) for g in cell["groups"]))
        console.print(bands)
    if section.get("note"):
        console.print(section["note"])
