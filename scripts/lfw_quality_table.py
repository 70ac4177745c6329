"""The README's "image quality by sex on LFW" table, from an LFW audit's report.json.

    .venv/bin/python scripts/lfw_quality_table.py REPORT_JSON [--write-readme README.md]

REPORT_JSON is the report of ``faceaudit audit --lfw LFW --by sex --out DIR`` (``make demo``
writes ``demo-out/lfw-audit/report.json``). It prints, per sex group, the failure-to-template
rate and the median [quartiles] of inter-eye distance, sharpness, luminance mean and yaw, then
the FNMR by inter-eye-distance and by sharpness tertile at the primary target — every number
read from the report. ``--write-readme`` replaces the table between the README's
``<!-- lfw-quality:start -->`` and ``<!-- lfw-quality:end -->`` markers, so the README's
numbers are never typed by hand.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

START, END = "<!-- lfw-quality:start -->", "<!-- lfw-quality:end -->"
SHOWN = ("inter_eye_distance_px", "sharpness", "luminance_mean", "yaw_deg")


def _quartiles(q: dict) -> str:
    if q.get("median") is None:
        return "—"
    return f"{q['median']:.3g} [{q['q1']:.3g}, {q['q3']:.3g}]"


def _estimate(e: dict) -> str:
    if e.get("value") is None:
        return "—"
    text = f"{e['value']:.3g}"
    if e.get("low") is not None and e.get("high") is not None:
        text += f" [{e['low']:.3g}, {e['high']:.3g}]"
    return text + (" !" if e.get("small_sample") else "")


def quality_table(report: dict) -> str:
    """The markdown table (and its source line) of the report's quality section."""
    section = report.get("quality")
    if not section:
        raise SystemExit("the report has no quality section: audit templates embedded with "
                         "their quality columns (faceaudit audit --lfw …, or embed then "
                         "--embeddings)")
    ftt = {g["group"]: g.get("ftt") for g in report["data"].get("groups", [])}
    shown = [c for c in SHOWN if c in section["components"]]
    lines = ["| group | templates | failure to template | "
             + " | ".join(f"{c} median [Q1, Q3]" for c in shown) + " |",
             "|---|---|---|" + "---|" * len(shown)]
    for row in section["distribution"]:
        rate = ftt.get(row["group"])
        lines.append(f"| {row['group']} | {row['templates']:,} | "
                     + ("—" if rate is None else f"{rate:.2%}") + " | "
                     + " | ".join(_quartiles(row["components"][c]) for c in shown) + " |")
    for entry in section["fnmr_by_band"]:
        groups = [g["group"] for g in entry["bands"][0]["groups"]]
        lines += ["", f"FNMR at FMR {section['target_fmr']:g} (threshold "
                      f"{section['threshold']!r}) by {entry['component']} tertile "
                      "(a pair is in the band of its worse image):", "",
                  "| band | " + " | ".join(groups) + " |", "|---|" + "---|" * len(groups)]
        for cell in entry["bands"]:
            low, high = cell["range"]
            span = (f"< {high:.3g}" if low is None else f"≥ {low:.3g}" if high is None
                    else f"{low:.3g}–{high:.3g}")
            lines.append(f"| {cell['band']} ({span}) | "
                         + " | ".join(_estimate(g["fnmr"]) for g in cell["groups"]) + " |")
    prov = report.get("provenance", {})
    lines += ["", f"From `{prov.get('input')}` ({prov.get('backend_id')}, faceaudit "
                  f"{prov.get('faceaudit_version')}, {prov.get('created_at')}) by "
                  "`scripts/lfw_quality_table.py`."]
    return "\n".join(lines)


def write_readme(readme: Path, table: str) -> None:
    """Replace the text between the README's markers with ``table``."""
    text = readme.read_text(encoding="utf-8")
    if START not in text or END not in text:
        raise SystemExit(f"{readme}: no {START} … {END} markers")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(f"{head}{START}\n{table}\n{END}{tail}", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """Print (or write into the README) the quality-by-group table of one report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("report", type=Path, help="report.json of an LFW audit by sex")
    parser.add_argument("--write-readme", type=Path, default=None,
                        help="replace the table between the README's lfw-quality markers")
    args = parser.parse_args(argv)
    table = quality_table(json.loads(args.report.read_text(encoding="utf-8")))
    if args.write_readme:
        write_readme(args.write_readme, table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
