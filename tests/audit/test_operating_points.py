"""``faceaudit audit --operating-points``: a grid of global thresholds per target with every
group's rates and intervals, and the worst-group threshold — the lowest grid threshold at which
every supported group's FMR upper bound is within the target — with the FNMR it costs."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner
from verdict_data import write_large_audit

from faceaudit.audit.operating_points import grid_bins, recommend
from faceaudit.cli import app


def run(*args):
    return CliRunner().invoke(app, ["audit", *(str(a) for a in args)])


def test_worst_group_threshold_in_the_report_and_terminal(tmp_path):
    table = write_large_audit(tmp_path / "large.csv")
    out = tmp_path / "o"
    result = run("--scores", table, "--out", out, "--fmr", "1e-2", "--bootstrap", 300,
                 "--operating-points")
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    (point,) = report["operating_points"]
    assert point["target_fmr"] == 1e-2
    grid = point["grid"]
    assert [p["threshold"] for p in grid] == sorted(p["threshold"] for p in grid)
    chosen = point["recommended"]
    assert chosen is not None and chosen["recommended"]
    assert point["recommended_threshold"] == chosen["threshold"]
    for g in chosen["groups"]:
        assert g["supported"] and g["fmr"]["high"] <= 1e-2  # every group's upper bound
        assert g["fnmr"]["value"] is not None and g["fnmr"]["low"] is not None
    # the lowest such threshold of the grid: the point below misses it for some group
    below = [p for p in grid if p["threshold"] < chosen["threshold"]]
    assert below and any(g["fmr"]["high"] > 1e-2 for g in below[-1]["groups"])
    # the global threshold's male FMR (0.0085) is within the target, its upper bound is not
    male = report["targets"][0]["groups"][1]
    assert male["fmr"]["value"] <= 1e-2 < male["fmr"]["high"]
    assert set(chosen["summaries"]) == {"fmr_ratio", "fnmr_ratio"}
    assert "worst-group threshold at FMR 0.01:" in result.stdout
    html = (out / "report.html").read_text()
    assert "Worst-group operating point" in html and "worst-group threshold 0.9" in html
    plain = run("--scores", table, "--out", tmp_path / "p", "--fmr", "1e-2", "--bootstrap", 0)
    assert plain.exit_code == 0, plain.output
    assert "operating_points" not in json.loads((tmp_path / "p" / "report.json").read_text())


def test_grid_and_recommendation_rules():
    # two groups' FMR curves over 6 bins; the worst is group 1
    curves = np.array([[1.0, 0.02, 0.008, 0.004, 0.001, 0.0],
                       [1.0, 0.05, 0.009, 0.006, 0.002, 0.0]])
    supported = np.array([True, True])
    bins = grid_bins(curves, supported, 1e-2)
    assert bins[0] == 2 and bins[-1] == 5 and bins == sorted(set(bins))
    highs = {k: curves[:, k] * 2 for k in bins}  # an upper bound twice the point
    got = recommend(1e-2, bins, supported, highs)
    assert got.recommended == 4 and got.note is None  # 2 × 0.006 > 0.01 at bin 3
    assert recommend(1e-4, bins, supported, highs).recommended == 5  # no false match left
    loose = {k: np.full(2, 0.5) for k in bins}  # bounds never within the target
    none = recommend(1e-2, bins, supported, loose)
    assert none.recommended is None and "no threshold" in none.note
    missing = recommend(1e-2, bins, supported, {k: np.full(2, np.nan) for k in bins})
    assert missing.recommended is None and "no interval" in missing.note
    assert recommend(1e-2, [], np.array([False, False]), {}).note == (
        "no group supports this target")


@pytest.mark.parametrize("flag", ["--operating-points"])
def test_option_is_in_the_help(flag):
    assert flag in CliRunner().invoke(app, ["audit", "--help"]).output
