"""The gate judges intervals: pass (the whole interval within the limit), fail (the whole
interval beyond it), inconclusive (across it), insufficient (no interval, or too few
identities) — on real audits of scores tables through the CLI."""

import json

import pytest
from typer.testing import CliRunner
from verdict_data import write_large_audit, write_small_audit

from faceaudit.audit.gate_rules import interval_verdict
from faceaudit.cli import app


def run(*args):
    return CliRunner().invoke(app, ["audit", *(str(a) for a in args)])


@pytest.mark.parametrize(("op", "low", "high", "limit", "want"), [
    (">", 2.5, 4.0, 2.0, "fail"), (">", 1.1, 1.9, 2.0, "pass"), (">", 1.5, 3.0, 2.0,
                                                                   "inconclusive"),
    (">", 2.0, 3.0, 2.0, "inconclusive"), (">=", 2.0, 3.0, 2.0, "fail"),
    ("<", 0.5, 0.8, 0.9, "fail"), ("<", 0.95, 0.99, 0.9, "pass"),
    ("<=", 0.8, 0.9, 0.9, "fail"), ("<", 0.85, 0.95, 0.9, "inconclusive"),
])
def test_interval_verdict(op, low, high, limit, want):
    assert interval_verdict(op, low, high, limit) == want


def test_35_plus_35_identities_ratio_11_8_is_not_decided(tmp_path):
    table = write_small_audit(tmp_path / "small.csv")
    out = tmp_path / "o"
    result = run("--scores", table, "--out", out, "--fmr", "1e-3", "--bootstrap", 500,
                 "--fail-if", "fmr_ratio>2")
    assert result.exit_code == 3, result.output  # not passed
    report = json.loads((out / "report.json").read_text())
    rule = report["gate"]["rules"][0]
    assert rule["value"] == pytest.approx((1 / 3570) / (1 / 42245))  # 11.8, exact
    assert rule["status"] in ("inconclusive", "insufficient")
    assert rule["low"] < 2 < rule["high"]
    assert report["gate"]["passed"] is False and report["gate"]["verdict"] == rule["status"]
    # the terminal prints value, interval and verdict together
    assert f"gate fmr_ratio>2: {rule['status'].upper()} (11.8 [" in result.stdout
    html = (out / "report.html").read_text()
    assert rule["status"].upper() in html and "95% interval" in html


def test_whole_interval_beyond_fails_within_passes(tmp_path):
    table = write_large_audit(tmp_path / "large.csv")
    out = tmp_path / "o"
    result = run("--scores", table, "--out", out, "--fmr", "1e-2", "--bootstrap", 500,
                 "--fail-if", "fmr_ratio>2", "--fail-if", "fnmr_ratio>2", "--json")
    assert result.exit_code == 3, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    fmr_rule, fnmr_rule = summary["gate"]["rules"]
    assert fmr_rule["value"] == pytest.approx(10.0) and fmr_rule["low"] > 2
    assert fmr_rule["status"] == "fail"
    assert fnmr_rule["value"] == pytest.approx(1.0) and fnmr_rule["high"] < 2
    assert fnmr_rule["low"] < 1  # the log-scale interval is not bounded at 1
    assert fnmr_rule["status"] == "pass"
    assert summary["gate"]["verdict"] == "fail"
    passing = run("--scores", table, "--out", tmp_path / "p", "--fmr", "1e-2",
                  "--bootstrap", 500, "--fail-if", "fnmr_ratio>2", "--fail-if", "fmr_ratio>50")
    assert passing.exit_code == 0, passing.output
    assert "gate: PASS" in passing.stdout


def test_without_intervals_a_rule_is_insufficient_never_a_pass(tmp_path):
    table = write_large_audit(tmp_path / "large.csv")
    out = tmp_path / "o"
    result = run("--scores", table, "--out", out, "--fmr", "1e-2", "--bootstrap", 0,
                 "--fail-if", "fnmr_ratio>100")
    assert result.exit_code == 3, result.output
    rule = json.loads((out / "report.json").read_text())["gate"]["rules"][0]
    assert rule["status"] == "insufficient" and "no interval" in rule["note"]
    assert "INSUFFICIENT" in result.stdout


def test_too_few_identities_is_insufficient(tmp_path):
    table = write_large_audit(tmp_path / "large.csv")
    out = tmp_path / "o"
    result = run("--scores", table, "--out", out, "--fmr", "1e-2", "--bootstrap", 200,
                 "--min-identities", 61, "--fail-if", "fnmr_ratio>100")
    assert result.exit_code == 3, result.output
    rule = json.loads((out / "report.json").read_text())["gate"]["rules"][0]
    assert rule["status"] == "insufficient" and "fewer than 61 identities" in rule["note"]


def test_gate_section_matches_its_documented_schema(tmp_path):
    from pathlib import Path

    table = write_large_audit(tmp_path / "large.csv")
    out = tmp_path / "o"
    run("--scores", table, "--out", out, "--fmr", "1e-2", "--bootstrap", 100,
        "--fail-if", "fnmr_ratio>2")
    report = json.loads((out / "report.json").read_text())
    gate = report["gate"]
    assert set(gate) == {"passed", "verdict", "rules"}
    assert set(gate["rules"][0]) == {"expression", "metric", "op", "limit", "target_fmr",
                                     "value", "low", "high", "status", "note"}
    ratio = report["targets"][0]["summaries"]["fnmr_ratio"]
    assert ratio["interval"] == "mover-log" and ratio["low"] < 1 < ratio["high"]
    assert report["targets"][0]["groups"][0]["fmr"]["interval"] == "wilson-effective-n"
    doc = (Path(__file__).resolve().parents[2] / "docs" / "report-schema.md").read_text()
    for word in ('"verdict": str', '"low":', '"inconclusive"', '"insufficient"', "mover-log",
                 "wilson-effective-n"):
        assert word in doc, word


def test_max_geomean_beside_max_min_with_intervals_in_fail_if(tmp_path):
    table = write_large_audit(tmp_path / "large.csv")
    out = tmp_path / "o"
    result = run("--scores", table, "--out", out, "--fmr", "1e-2", "--bootstrap", 500,
                 "--fail-if", "fmr_max_geomean>1.5", "--fail-if", "fnmr_max_geomean>1.5")
    assert result.exit_code == 3, result.output
    report = json.loads((out / "report.json").read_text())
    summaries = report["targets"][0]["summaries"]
    ratio, geomean = summaries["fmr_ratio"], summaries["fmr_max_geomean"]
    # two groups: max / geometric mean = sqrt(max / min), interval included
    assert geomean["value"] == pytest.approx(ratio["value"] ** 0.5)
    assert geomean["low"] == pytest.approx(ratio["low"] ** 0.5)
    assert geomean["high"] == pytest.approx(ratio["high"] ** 0.5)
    assert geomean["interval"] == "mover-log" and geomean["groups"] == ["female", "male"]
    fmr_rule, fnmr_rule = report["gate"]["rules"]
    assert fmr_rule["status"] == "fail" and fnmr_rule["status"] == "pass"
    assert "FMR max / geometric mean" in (out / "report.html").read_text()
    rows = (out / "summaries.csv").read_text()
    assert "fmr_max_geomean" in rows and "fnmr_max_geomean" in rows


def test_one_pair_of_identities_gets_no_interval_and_a_zero_eer_an_exact_bound(tmp_path):
    import csv

    path = tmp_path / "pair.csv"
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["score", "genuine", "group_a", "group_b", "subject_a", "subject_b"])
        for s in ("p0", "p1"):  # group "pair": its impostors all come from one pair
            w.writerows([0.95, "true", "pair", "pair", s, s] for _ in range(3))
        w.writerows([0.9 if i < 30 else -0.5, "false", "pair", "pair", "p0", "p1"]
                    for i in range(3000))
        for s in range(40):
            w.writerows([0.95, "true", "many", "many", f"m{s}", f"m{s}"] for _ in range(3))
        n = 0
        for a in range(40):
            for b in range(a + 1, 40):
                for _ in range(2):
                    w.writerow([0.9 if n % 156 == 0 else -0.5, "false", "many", "many",
                                f"m{a}", f"m{b}"])
                    n += 1
    out = tmp_path / "o"
    result = run("--scores", path, "--out", out, "--fmr", "1e-2", "--bootstrap", 200,
                 "--min-identities", 2, "--fail-if", "fmr_ratio>2")
    assert result.exit_code == 3, result.output
    report = json.loads((out / "report.json").read_text())
    pair = report["targets"][0]["groups"][1]
    assert pair["group"] == "pair" and pair["fmr"]["value"] == pytest.approx(0.01)
    assert pair["fmr"]["low"] is None and pair["fmr"]["interval"] is None
    assert "cannot vary" in pair["fmr"]["interval_note"]
    rule = report["gate"]["rules"][0]
    assert rule["status"] == "insufficient" and "FMR of 'pair' has no interval" in rule["note"]
    many = next(g for g in report["per_group"] if g["group"] == "many")
    assert many["eer"]["value"] == 0.0
    assert many["eer"]["low"] == 0.0 and 0 < many["eer"]["high"] < 0.05
