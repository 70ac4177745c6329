import csv
import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from faceaudit.audit.gate import GateExpressionError, parse_rule
from faceaudit.cli import app


def run(*args):
    return CliRunner().invoke(app, ["audit", *(str(a) for a in args)])


@pytest.fixture
def scores_csv(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "scores.csv"
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["score", "genuine", "group_a", "group_b", "subject_a", "subject_b"])
        for g, shift in (("female", 0.05), ("male", 0.0)):
            for s in range(60):
                for _ in range(3):
                    w.writerow([rng.normal(0.45, 0.1), "true", g, g, f"{g}{s}", f"{g}{s}"])
            for _ in range(6000):
                a, b = rng.choice(60, 2, replace=False)
                w.writerow([rng.normal(shift, 0.1), "false", g, g, f"{g}{a}", f"{g}{b}"])
    return path


def test_scores_entry_point_writes_report_and_tables(scores_csv, tmp_path):
    out = tmp_path / "out"
    result = run("--scores", scores_csv, "--out", out, "--bootstrap", 100, "--fmr", "1e-2,1e-3")
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert report["schema"] == "faceaudit.audit/2"
    assert report["groups"] == ["female", "male"]
    assert report["primary_target"] == 1e-3
    female = report["targets"][0]["groups"][0]
    assert female["fmr"]["low"] <= female["fmr"]["value"] <= female["fmr"]["high"]
    assert report["targets"][0]["summaries"]["fmr_ratio"]["value"] > 1
    for name in (
        "per_group.csv",
        "cross_fmr.csv",
        "summaries.csv",
        "thresholds.csv",
        "report.html",
    ):
        assert (out / name).stat().st_size > 0
    assert "female" in result.output and "FMR" in result.output


def test_gate_violation_exits_3_and_is_listed(scores_csv, tmp_path):
    out = tmp_path / "out"
    result = run(
        "--scores",
        scores_csv,
        "--out",
        out,
        "--bootstrap",
        200,
        "--fail-if",
        "fmr_ratio>1.0001@1e-2",
        "--fail-if",
        "fnmr_ratio>100",
    )
    assert result.exit_code == 3, result.output
    gate = json.loads((out / "report.json").read_text())["gate"]
    assert gate["passed"] is False and gate["verdict"] == "fail"
    assert [r["status"] for r in gate["rules"]] == ["fail", "pass"]


RFW = "group,accuracy\nCaucasian,92.15\nIndian,88.00\nAsian,83.98\nAfrican,84.93\n"


def test_rates_entry_point_rfw(tmp_path):
    (tmp_path / "rfw.csv").write_text(RFW)
    result = run("--rates", tmp_path / "rfw.csv", "--out", tmp_path / "o")
    assert result.exit_code == 0, result.output
    summ = json.loads((tmp_path / "o" / "report.json").read_text())["targets"][0]["summaries"]
    assert round(summ["ser"]["value"], 2) == 2.04
    assert round(summ["std"]["value"], 2) == 3.19


def test_embeddings_parquet_entry_point(tmp_path):
    rng = np.random.default_rng(1)
    ident = np.repeat(np.arange(120), 3)
    emb = rng.standard_normal((120, 16))[ident] + 0.7 * rng.standard_normal((len(ident), 16))
    emb = (emb / np.linalg.norm(emb, axis=1, keepdims=True)).astype(np.float32)
    table = pa.table(
        {
            "path": [f"p{i}/{k}.jpg" for k, i in enumerate(ident)],
            "identity": [f"p{i}" for i in ident],
            "face_index": pa.array(np.zeros(len(ident), np.int32)),
            "box": [[0, 0, 10, 10]] * len(ident),
            "det_score": pa.array(np.ones(len(ident), np.float32)),
            "embedding": pa.FixedSizeListArray.from_arrays(pa.array(emb.ravel()), 16),
        }
    )
    pq.write_table(table, tmp_path / "e.parquet")
    rows = ["identity,sex"] + [f"p{i},{'female' if i % 2 else 'male'}" for i in range(118)]
    (tmp_path / "a.csv").write_text("\n".join(rows) + "\n")  # p118, p119 have no label
    result = run(
        "--embeddings",
        tmp_path / "e.parquet",
        "--attributes",
        tmp_path / "a.csv",
        "--by",
        "sex",
        "--out",
        tmp_path / "o",
        "--bootstrap",
        50,
        "--fmr",
        "1e-2",
    )
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    data = report["data"]
    assert data["templates"] == 354 and data["missing_labels"]["images"] == 6
    assert data["genuine_pairs"] == 118 * 3
    assert data["impostor_pairs"] == 354 * 353 // 2 - 354
    assert any("no sex label" in w for w in report["warnings"])
    assert len(report["det"]) == 2 and report["histograms"]["groups"][0]["impostor"]


@pytest.mark.parametrize(
    "args, message",
    [
        ([], "give exactly one input"),
        (["--scores", "missing.csv"], "no such file"),
        (["--rates", "BAD"], "needs 'fmr' and 'fnmr'"),
        (["--rates", "RFW", "--fail-if", "fmr_ratio=>2"], "bad --fail-if"),
        (["--rates", "RFW", "--fmr", "2"], "strictly between 0 and 1"),
        (["--embeddings", "x.parquet"], "--attributes is required"),
    ],
)
def test_bad_inputs_exit_2_with_one_line(tmp_path, args, message):
    (tmp_path / "BAD").write_text("group,fmr\na,0.1\nb,0.2\n")
    (tmp_path / "RFW").write_text(RFW)
    args = [str(tmp_path / a) if a in ("BAD", "RFW") else a for a in args]
    result = run(*args, "--out", tmp_path / "o")
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_parse_rule():
    rule = parse_rule(" fnmr_ratio >= 1.5 @1e-2")
    assert (rule.metric, rule.op, rule.limit, rule.target_fmr) == ("fnmr_ratio", ">=", 1.5, 0.01)
    for bad in ("fmr_ratio", "nope>2", "fmr_ratio>x", "fmr_ratio>2@5"):
        with pytest.raises(GateExpressionError):
            parse_rule(bad)


def test_audit_writes_its_own_calibration(scores_csv, tmp_path):
    from faceaudit.engine.calibration import load_calibration

    out = tmp_path / "out"
    result = run("--scores", scores_csv, "--out", out, "--bootstrap", 0, "--fmr", "1e-2,1e-3")
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert report["calibration"]["n_impostor"] == report["data"]["impostor_pairs"] == 12000
    from_report = load_calibration(out / "report.json", backend_id="")
    from_file = load_calibration(out / "calibration.json", backend_id="")
    for target in report["targets"]:
        expected = target["threshold"]
        assert from_file.threshold_for(target["target_fmr"]) == pytest.approx(expected, abs=2e-4)
        assert from_report.threshold_for(target["target_fmr"]) == pytest.approx(expected, abs=2e-4)


def test_pair_list_audits_only_the_listed_pairs(tmp_path):
    rng = np.random.default_rng(2)
    ident = np.repeat(np.arange(40), 2)
    emb = rng.standard_normal((40, 16))[ident] + 0.5 * rng.standard_normal((len(ident), 16))
    emb = (emb / np.linalg.norm(emb, axis=1, keepdims=True)).astype(np.float32)
    paths = [f"p{i}/{k}.jpg" for k, i in enumerate(ident)]
    table = pa.table(
        {
            "path": paths,
            "identity": [f"p{i}" for i in ident],
            "embedding": pa.FixedSizeListArray.from_arrays(pa.array(emb.ravel()), 16),
        }
    )
    pq.write_table(table, tmp_path / "e.parquet")
    rows = ["identity,sex"] + [f"p{i},{'female' if i % 2 else 'male'}" for i in range(40)]
    (tmp_path / "a.csv").write_text("\n".join(rows) + "\n")
    genuine = [(paths[2 * i], paths[2 * i + 1]) for i in range(40)]
    impostor = [(paths[2 * i], paths[2 * i + 5]) for i in range(30)]  # p_i vs p_(i+2)
    missing = [("p0/0.jpg", "nobody/1.jpg")]
    lines = ["image_a,image_b"] + [f"{a},{b}" for a, b in genuine + impostor + missing]
    (tmp_path / "pairs.csv").write_text("\n".join(lines) + "\n")
    result = run(
        "--embeddings", tmp_path / "e.parquet", "--attributes", tmp_path / "a.csv",
        "--pairs", tmp_path / "pairs.csv", "--by", "sex", "--out", tmp_path / "o",
        "--bootstrap", 0, "--fmr", "1e-1",
    )
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    assert report["provenance"]["protocol"] == "pair-list"
    assert report["data"]["genuine_pairs"] == 40
    assert report["data"]["impostor_pairs"] == 30
    assert any("1 of 71 listed pairs" in w for w in report["warnings"])
    # identity p_i and p_(i+2) always share a sex: every impostor pair is within a group
    per_group = report["data"]["groups"]
    assert sum(g["impostor_pairs"] for g in per_group) == 30


def test_failure_to_template_is_reported_per_group(tmp_path):
    rng = np.random.default_rng(3)
    ident = np.repeat(np.arange(20), 2)
    emb = rng.standard_normal((20, 16))[ident] + 0.5 * rng.standard_normal((len(ident), 16))
    emb = (emb / np.linalg.norm(emb, axis=1, keepdims=True)).astype(np.float32)
    table = pa.table(
        {
            "path": [f"p{i}/{k}.jpg" for k, i in enumerate(ident)],
            "identity": [f"p{i}" for i in ident],
            "embedding": pa.FixedSizeListArray.from_arrays(pa.array(emb.ravel()), 16),
        }
    )
    # four faceless images of odd (female) people, one of an even (male) person, one unlabelled
    no_face = ["p1/x.jpg", "p3/x.jpg", "p5/x.jpg", "p7/x.jpg", "p2/x.jpg", "nobody/x.jpg"]
    table = table.replace_schema_metadata({"faceaudit": json.dumps({"no_face": no_face})})
    pq.write_table(table, tmp_path / "e.parquet")
    rows = ["identity,sex"] + [f"p{i},{'female' if i % 2 else 'male'}" for i in range(20)]
    (tmp_path / "a.csv").write_text("\n".join(rows) + "\n")
    result = run(
        "--embeddings", tmp_path / "e.parquet", "--attributes", tmp_path / "a.csv",
        "--by", "sex", "--out", tmp_path / "o", "--bootstrap", 0, "--fmr", "1e-1",
    )
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    groups = {g["group"]: g for g in report["data"]["groups"]}
    assert groups["female"]["no_face"] == 4 and groups["female"]["ftt"] == pytest.approx(4 / 24)
    assert groups["male"]["no_face"] == 1 and groups["male"]["ftt"] == pytest.approx(1 / 21)
    assert report["data"]["no_face"] == 6
    assert any("detection itself differs by group" in w for w in report["warnings"])
    assert "Failure to template" in (tmp_path / "o" / "report.html").read_text()


def _uneven_scores(path):
    """Groups a, b with 6,000 impostor pairs each; c with 2,658 (too few for FMR 1e-3) and
    only 12 identities."""
    rng = np.random.default_rng(4)
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["score", "genuine", "group_a", "group_b", "subject_a", "subject_b"])
        for g, n_id, n_imp in (("a", 60, 6000), ("b", 60, 6000), ("c", 12, 2658)):
            for s in range(n_id):
                for _ in range(3):
                    w.writerow([rng.normal(0.5, 0.15), "true", g, g, f"{g}{s}", f"{g}{s}"])
            for _ in range(n_imp):
                x, y = rng.choice(n_id, 2, replace=False)
                w.writerow([rng.normal(0, 0.1), "false", g, g, f"{g}{x}", f"{g}{y}"])
    return path


def test_terminal_shows_warnings_on_stderr_and_who_the_summaries_are_over(tmp_path):
    scores = _uneven_scores(tmp_path / "s.csv")
    result = run("--scores", scores, "--out", tmp_path / "o", "--bootstrap", 50,
                 "--fmr", "1e-2,1e-3,1e-4", "--fail-if", "fmr_ratio>100@1e-4")
    assert result.exit_code == 3, result.output
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    assert report["warnings"]
    for warning in report["warnings"]:
        assert f"faceaudit: warning: {warning}"[:60] in result.stderr.replace("\n", " ")
    assert "warning:" not in result.stdout
    out = result.stdout
    assert "fmr_ratio" in out and "over a, b" in out
    assert "left out" in out and "c (2,658 impostor pairs" in out
    assert "UNEVALUABLE" in out and "14,658 impostor comparisons" in out and "30,000" in out
    assert "identities" in out and "!" in out  # c rests on 12 identities
    html = (tmp_path / "o" / "report.html").read_text()
    assert "few identities (12)" in html and "left out: c (2,658 impostor pairs" in html


def test_json_prints_one_object_on_stdout(tmp_path):
    scores = _uneven_scores(tmp_path / "s.csv")
    result = run("--scores", scores, "--out", tmp_path / "o", "--bootstrap", 0,
                 "--fmr", "1e-2,1e-3", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)  # the whole of stdout is one JSON object
    assert summary["report"].endswith("report.json")
    assert summary["primary_target"] == 1e-3
    entry = summary["targets"][1]
    assert [g["group"] for g in entry["groups"]] == ["a", "b", "c"]
    assert entry["summaries"]["fmr_ratio"]["groups"] == ["a", "b"]
    assert entry["groups"][2]["small_sample"] is True
    assert summary["warnings"] and "warning:" in result.stderr
