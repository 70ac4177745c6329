"""The README's worst-group table: each group's FMR and FNMR at the global threshold (set on
all impostor comparisons) and at the worst-group threshold (the lowest at which every group's
FMR upper bound is within the target), with the max/min ratios — printed from an audit report.

    .venv/bin/python scripts/worst_group_table.py --lfw [PATH_TO_LFW] [--bootstrap 200]
    .venv/bin/python scripts/worst_group_table.py --report OUT/report.json [--fmr 1e-3]

``--lfw`` runs ``faceaudit audit --lfw PATH --by sex --operating-points`` first (embeddings
are cached, so a rerun takes minutes; the first run embeds all 13,233 images), then prints the
table of its report; ``--report`` prints the table of a report written with
``--operating-points``. The numbers in the README come from this output, never by hand.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from faceaudit.audit.gate_rules import same_number
from faceaudit.base.datasets import LFW_HELP, find_lfw


def cell(estimate: dict[str, Any] | None, bold: bool = False) -> str:
    """``0.00415 [0.0034, 0.00508]`` (three significant digits); ``n/a`` without a value."""
    if not estimate or estimate.get("value") is None:
        return "n/a"
    value = f"{estimate['value']:.3g}"
    value = f"**{value}**" if bold else value
    low, high = estimate.get("low"), estimate.get("high")
    if low is None and high is None:
        return value
    return f"{value} [{'—' if low is None else f'{low:.3g}'}, " \
           f"{'∞' if high is None else f'{high:.3g}'}]"


def table(report: dict[str, Any], fmr: float) -> str:
    """The markdown table of ``report`` at target ``fmr``: the global-threshold row, then the
    worst-group row (its note when the report recommends none)."""
    target = next((t for t in report.get("targets") or []
                   if same_number(t.get("target_fmr"), fmr)), None)
    if target is None or not target.get("supported"):
        raise SystemExit(f"the report has no supported target FMR {fmr:g}")
    entry = next((e for e in report.get("operating_points") or []
                  if same_number(e.get("target_fmr"), fmr)), None)
    if entry is None:
        raise SystemExit("the report has no operating_points section at this target: audit "
                         "with --operating-points")
    groups = [str(g["group"]) for g in target["groups"]]
    head = ["at FMR " + f"{fmr:g}", "threshold"]
    for g in groups:
        head += [f"{g} FMR", f"{g} FNMR"]
    head += ["FMR ratio", "FNMR ratio"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]

    def row(label: str, threshold: float, rates: dict[str, dict], summaries: dict,
            bold_fnmr: bool = False) -> str:
        cells = [label, f"{threshold:.4g}"]
        for g in groups:
            cells += [cell(rates[g].get("fmr")), cell(rates[g].get("fnmr"), bold_fnmr)]
        cells += [cell(summaries.get("fmr_ratio")), cell(summaries.get("fnmr_ratio"))]
        return "| " + " | ".join(cells) + " |"

    lines.append(row("global threshold (all impostors)", target["threshold"],
                     {g["group"]: g for g in target["groups"]}, target.get("summaries") or {}))
    chosen = entry.get("recommended")
    if chosen is None:
        lines.append(f"| **worst-group threshold** | none: {entry.get('note')} |")
    else:
        lines.append(row("**worst-group threshold**", chosen["threshold"],
                         {g["group"]: g for g in chosen["groups"]}, chosen.get("summaries") or {},
                         bold_fnmr=True))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Print the table (running the LFW audit first with ``--lfw``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    given = parser.add_mutually_exclusive_group(required=True)
    given.add_argument("--report", type=Path, help="a report.json written with --operating-points")
    given.add_argument("--lfw", nargs="?", const="", help="run the LFW audit (LFW folder, or "
                       "found as faceaudit finds it)")
    parser.add_argument("--fmr", type=float, default=1e-3, help="the target FMR (default 1e-3)")
    parser.add_argument("--bootstrap", type=int, default=200)
    parser.add_argument("--out", type=Path, default=Path("worst-group-lfw"))
    args = parser.parse_args(argv)
    path = args.report
    if path is None:
        lfw = Path(args.lfw) if args.lfw else find_lfw()
        if lfw is None:
            raise SystemExit(f"no LFW folder found: {LFW_HELP}")
        command = [sys.executable, "-m", "faceaudit", "audit", "--lfw", str(lfw), "--by", "sex",
                   "--fmr", f"{args.fmr:g}", "--operating-points", "--bootstrap",
                   str(args.bootstrap), "--out", str(args.out)]
        done = subprocess.run(command, check=False, stdout=subprocess.DEVNULL)
        if done.returncode not in (0, 3):  # 3: its gate failed, the report is written
            return done.returncode
        path = args.out / "report.json"
    print(table(json.loads(Path(path).read_text()), args.fmr))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
