"""``scripts/worst_group_table.py`` prints the README's worst-group table from a real audit
report: the global-threshold row and the worst-group row, each group's FMR and FNMR with
their intervals and the ratios, as the report states them (issue 24)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from typer.testing import CliRunner
from worst_group_data import write_spread_audit

from faceaudit.cli import app

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "worst_group_table.py"


def _cell(e: dict) -> str:
    return f"{e['value']:.3g} [{e['low']:.3g}, {e['high']:.3g}]"


def test_the_script_prints_both_rows_from_the_report(tmp_path):
    table = write_spread_audit(tmp_path / "scores.csv", {
        "male": list(np.r_[np.full(80, 0.35), np.linspace(0.4, 0.9, 30)]),
        "female": list(np.linspace(0.4, 0.9, 30))})
    out = tmp_path / "out"
    done = CliRunner().invoke(app, ["audit", "--scores", str(table), "--out", str(out),
                                    "--fmr", "1e-2", "--bootstrap", "100",
                                    "--operating-points"])
    assert done.exit_code == 0, done.output
    report = json.loads((out / "report.json").read_text())
    printed = subprocess.run([sys.executable, str(SCRIPT), "--report", str(out / "report.json"),
                              "--fmr", "1e-2"], capture_output=True, text=True, check=True)
    header, rule, global_row, worst_row = printed.stdout.strip().splitlines()
    assert header.startswith("| at FMR 0.01 | threshold | female FMR | female FNMR | male FMR")
    target = report["targets"][0]
    chosen = report["operating_points"][0]["recommended"]
    assert global_row.startswith(f"| global threshold (all impostors) | "
                                 f"{target['threshold']:.4g} |")
    assert worst_row.startswith(f"| **worst-group threshold** | {chosen['threshold']:.4g} |")
    for row, at in ((global_row, target), (worst_row, chosen)):
        for g in at["groups"]:
            assert _cell(g["fmr"]) in row
        assert _cell(at["summaries"]["fmr_ratio"]) in row
    assert global_row != worst_row
    missing = subprocess.run([sys.executable, str(SCRIPT), "--report", str(out / "report.json"),
                              "--fmr", "1e-3"], capture_output=True, text=True)
    assert missing.returncode != 0 and "no supported target FMR 0.001" in missing.stderr
