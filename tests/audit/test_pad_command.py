"""``faceaudit audit --pad-scores``: the report's ``pad`` section, a 0–1 score where lower
means attack, the score direction, the gate's exit codes, and bad tables (exit 2, one line)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from faceaudit.cli import app


def run(*args):
    return CliRunner().invoke(app, ["audit", *(str(a) for a in args)])


def write_pad(path, *, female_shift=0.0, subjects=40, flip=False, comparison=True):
    """A 0–1 liveness score (lower means attack): bona fide near 0.7, attacks near 0.25;
    female bona fide presentations shifted down by ``female_shift`` (more rejected)."""
    rng = np.random.default_rng(3)
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["score", "presentation", "group", "subject"]
                   + (["comparison_score"] if comparison else []))
        for g, shift in (("female", female_shift), ("male", 0.0)):
            for s in range(subjects):
                rows = [(np.clip(rng.normal(0.7 - shift, 0.15), 0, 1), "bona_fide", "")
                        for _ in range(6)]
                rows += [(np.clip(rng.normal(0.25, 0.12), 0, 1), sp, round(rng.uniform(), 3))
                         for sp in ("print", "replay") for _ in range(5)]
                for score, presentation, cmp in rows:
                    value = 1 - round(float(score), 3) if flip else round(float(score), 3)
                    w.writerow([value, presentation, g, f"{g}{s}"] + ([cmp] if comparison
                                                                       else []))
    return path


def test_a_zero_to_one_score_where_lower_means_attack(tmp_path):
    table = write_pad(tmp_path / "pad.csv")
    out = tmp_path / "out"
    result = run("--pad-scores", table, "--lower-is-attack", "--out", out, "--bootstrap", 100,
                 "--comparison-threshold", 0.5, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["mode"] == "pad"
    report = json.loads((out / "report.json").read_text())
    pad = report["pad"]
    assert pad["convention"] == {"higher_is_attack": False,
                                 "accepted_as_bona_fide": "score >= threshold"}
    assert pad["species"] == ["print", "replay"] and pad["groups"] == ["female", "male"]
    assert [p["label"] for p in pad["operating_points"]] == ["BPCER100", "BPCER20", "BPCER10"]
    point = pad["operating_points"][1]
    assert 0 < point["threshold"] < 1
    for row in point["groups"]:  # a sensible PAD: few attacks accepted, some bona fide lost
        assert row["apcer"]["value"] <= 0.1 and row["bpcer"]["value"] < 0.5
        assert row["iapmr"]["value"] <= row["apcer"]["value"]
        assert row["bpcer"]["low"] is not None and row["bpcer"]["high"] is not None
    assert "bpcer_ratio" in point["summaries"] and point["summaries"]["bpcer_ratio"]["interval"]
    assert not any("score direction" in w for w in report["warnings"])
    # the default reads the same convention: the same numbers
    again = run("--pad-scores", table, "--out", tmp_path / "o2", "--bootstrap", 100,
                "--comparison-threshold", 0.5)
    assert again.exit_code == 0, again.output
    other = json.loads((tmp_path / "o2" / "report.json").read_text())["pad"]
    assert other["operating_points"] == pad["operating_points"]
    with (out / "pad.csv").open() as f:
        rows = list(csv.DictReader(f))
    female = [r for r in rows if r["point"] == "BPCER20" and r["group"] == "female"]
    bpcer = next(r for r in female if r["rate"] == "bpcer")
    assert float(bpcer["value"]) == point["groups"][0]["bpcer"]["value"]
    assert {r["species"] for r in female if r["rate"] == "apcer"} >= {"print", "replay"}
    html = (out / "report.html").read_text()
    assert "Presentation attack detection" in html and "BPCER20" in html


def test_higher_is_attack_reads_the_flipped_score_the_same(tmp_path):
    plain = write_pad(tmp_path / "plain.csv", comparison=False)
    flipped = write_pad(tmp_path / "flipped.csv", comparison=False, flip=True)
    a = run("--pad-scores", plain, "--out", tmp_path / "a", "--bootstrap", 0)
    b = run("--pad-scores", flipped, "--higher-is-attack", "--out", tmp_path / "b",
            "--bootstrap", 0)
    assert a.exit_code == 0 and b.exit_code == 0, (a.output, b.output)
    pa = json.loads((tmp_path / "a" / "report.json").read_text())["pad"]
    pb = json.loads((tmp_path / "b" / "report.json").read_text())["pad"]
    assert pb["convention"]["accepted_as_bona_fide"] == "score <= threshold"
    for x, y in zip(pa["operating_points"], pb["operating_points"], strict=True):
        assert y["threshold"] == pytest.approx(1 - x["threshold"], abs=1e-9)
        for gx, gy in zip(x["groups"], y["groups"], strict=True):
            assert gx["bpcer"]["errors"] == gy["bpcer"]["errors"]
            assert gx["species"] == gy["species"]
    # read the wrong way round, the audit says so
    c = run("--pad-scores", flipped, "--out", tmp_path / "c", "--bootstrap", 0)
    assert c.exit_code == 0
    warnings = json.loads((tmp_path / "c" / "report.json").read_text())["warnings"]
    assert any("score direction" in w and "--higher-is-attack" in w for w in warnings)


def test_gate_fails_on_a_bpcer_differential_and_exits_3(tmp_path):
    table = write_pad(tmp_path / "pad.csv", female_shift=0.35, subjects=40, comparison=False)
    result = run("--pad-scores", table, "--out", tmp_path / "o", "--bootstrap", 300,
                 "--fail-if", "bpcer_ratio>2", "--fail-if", "apcer_ratio>1000@0.1")
    assert result.exit_code == 3, result.output
    gate = json.loads((tmp_path / "o" / "report.json").read_text())["gate"]
    by = {r["expression"]: r for r in gate["rules"]}
    assert by["bpcer_ratio>2"]["status"] == "fail" and by["bpcer_ratio>2"]["low"] > 2
    assert by["bpcer_ratio>2"]["apcer_target"] == 0.05  # judged at BPCER20, the primary
    assert by["apcer_ratio>1000@0.1"]["status"] == "pass"
    assert gate["verdict"] == "fail"
    assert "gate bpcer_ratio>2: FAIL" in result.output


def test_a_group_with_few_subjects_is_insufficient_never_a_pass(tmp_path):
    table = write_pad(tmp_path / "pad.csv", subjects=8, comparison=False)
    result = run("--pad-scores", table, "--out", tmp_path / "o", "--bootstrap", 100,
                 "--fail-if", "bpcer_ratio>1000@0.1")
    assert result.exit_code == 3, result.output
    rule = json.loads((tmp_path / "o" / "report.json").read_text())["gate"]["rules"][0]
    assert rule["status"] == "insufficient" and "fewer than 30" in rule["note"]


def test_vendor_threshold_is_the_primary_point(tmp_path):
    table = write_pad(tmp_path / "pad.csv", comparison=False)
    result = run("--pad-scores", table, "--out", tmp_path / "o", "--bootstrap", 0,
                 "--pad-threshold", 0.5, "--apcer", "0.1")
    assert result.exit_code == 0, result.output
    pad = json.loads((tmp_path / "o" / "report.json").read_text())["pad"]
    assert [p["label"] for p in pad["operating_points"]] == ["BPCER10", "given threshold"]
    assert pad["primary"] == "given threshold"
    assert pad["operating_points"][1]["threshold"] == 0.5


BAD = {
    "missing": "score,group,subject\n0.5,a,s1\n",
    "unknown": "score,presentation,group,subject\n0.9,bona_fide,a,s1\n0.1,live,a,s1\n",
    "number": "score,presentation,group,subject\n0.9,bona_fide,a,s1\n0.1,1,a,s1\n",
    "score": "score,presentation,group,subject\n0.9,bona_fide,a,s1\nhigh,print,a,s1\n",
    "empty": "score,presentation,group,subject\n0.9,bona_fide,a,s1\n0.1,print,,s1\n",
    "attacks": "score,presentation,group,subject\n0.9,bona_fide,a,s1\n0.8,bona_fide,b,s2\n",
    "one group": "score,presentation,group,subject\n0.9,bona_fide,a,s1\n0.1,print,a,s1\n",
    "generic": "score,presentation,group,subject\n0.9,bona_fide,a,s1\n0.1,attack,b,s1\n",
    "undeclared": "score,presentation,group,subject\n0.9,bona_fide,a,s1\n0.1,mask,a,s1\n",
    "comparison": ("score,presentation,group,subject,comparison_score\n"
                   "0.9,bona_fide,a,s1,\n0.1,print,a,s1,near\n"),
}


@pytest.mark.parametrize("name, extra, message", [
    ("missing", [], "missing column(s) presentation"),
    ("unknown", [], "'live' is ambiguous"),
    ("number", [], "'1' is not 'bona_fide' nor a species name"),
    ("score", [], "line 3: score 'high' is not a number"),
    ("empty", [], "line 3: empty 'group'"),
    ("attacks", [], "needs both bona fide"),
    ("one group", [], "the PAD table has 1 group"),
    ("generic", [], "'attack' names no attack instrument species"),
    ("undeclared", ["--pai-species", "print,replay"], "not 'bona_fide' nor a declared species"),
    ("comparison", [], "comparison_score 'near' is not a number"),
])
def test_bad_tables_exit_2_with_one_line(tmp_path, name, extra, message):
    path = tmp_path / f"{name}.csv"
    path.write_text(BAD[name])
    result = run("--pad-scores", path, *extra, "--out", tmp_path / "o")
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


@pytest.mark.parametrize("args, message", [
    (["--scores", "x.csv", "--higher-is-attack"], "--higher-is-attack applies to --pad-scores"),
    (["--pad-scores", "P", "--operating-points"], "does not apply to --pad-scores"),
    (["--pad-scores", "P", "--apcer", "5"], "strictly between 0 and 1"),
    (["--pad-scores", "P", "--scores", "x.csv"], "give exactly one input"),
    (["--pad-scores", "P", "--fail-if", "bpcer_ratio>>2"], "bad --fail-if"),
])
def test_bad_options_exit_2(tmp_path, args, message):
    table = write_pad(tmp_path / "P", subjects=3, comparison=False)
    args = [str(table) if a == "P" else a for a in args]
    result = run(*args, "--out", tmp_path / "o")
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_iapmr_threshold_from_a_calibration(tmp_path):
    """Without --comparison-threshold: --calibration's threshold at the primary --fmr, else the
    shipped calibration's, said in a warning (a vendor's scores may be on another scale)."""
    from importlib import resources

    from faceaudit.engine.calibration import load_calibration

    table = write_pad(tmp_path / "pad.csv")
    shipped = load_calibration().threshold_for(1e-3)
    result = run("--pad-scores", table, "--out", tmp_path / "a", "--bootstrap", 0)
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "a" / "report.json").read_text())
    assert report["pad"]["iapmr"]["comparison_threshold"] == shipped
    assert "shipped" in report["pad"]["iapmr"]["threshold_source"]
    assert any(w.startswith("IAPMR: no --comparison-threshold") for w in report["warnings"])
    cal = tmp_path / "calibration.json"
    cal.write_text((resources.files("faceaudit") / "data" /
                    "calibration-dlib-resnet-1.json").read_text())
    result = run("--pad-scores", table, "--out", tmp_path / "b", "--bootstrap", 0,
                 "--calibration", cal, "--fmr", "1e-2")
    assert result.exit_code == 0, result.output
    iapmr = json.loads((tmp_path / "b" / "report.json").read_text())["pad"]["iapmr"]
    assert iapmr["comparison_threshold"] == load_calibration(cal).threshold_for(1e-2)
    assert iapmr["threshold_source"] == f"calibration {cal} at FMR 0.01"


def test_a_declared_catch_all_species_is_audited(tmp_path):
    path = tmp_path / "pad.csv"
    rows = ["score,presentation,group,subject"]
    rows += [f"0.{i % 9 + 1},bona_fide,{g},{g}{i}" for g in "ab" for i in range(20)]
    rows += [f"0.0{i % 9},attack,{g},{g}{i}" for g in "ab" for i in range(20)]
    path.write_text("\n".join(rows) + "\n")
    result = run("--pad-scores", path, "--pai-species", "attack", "--out", tmp_path / "o",
                 "--bootstrap", 0, "--apcer", "0.1")
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "o" / "report.json").read_text())["pad"]["species"] == [
        "attack"]
