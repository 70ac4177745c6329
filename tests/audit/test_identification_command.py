"""``faceaudit audit --mode identification``: the command, its report, its page, its errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from browser import open_in_chromium
from PIL import Image
from typer.testing import CliRunner

from faceaudit.cli import app


def run(*args):
    return CliRunner().invoke(app, ["audit", *(str(a) for a in args)])


@pytest.fixture
def templates(tmp_path: Path) -> tuple[Path, Path]:
    """200 identities × 3 templates; odd identities (female) are noisier, so their mates are
    found less often."""
    rng = np.random.default_rng(0)
    n = 200
    ident = np.repeat(np.arange(n), 3)
    noise = np.where(ident % 2 == 1, 1.0, 0.75)[:, None]
    emb = rng.standard_normal((n, 32))[ident] + noise * rng.standard_normal((len(ident), 32))
    emb = (emb / np.linalg.norm(emb, axis=1, keepdims=True)).astype(np.float32)
    table = pa.table({
        "path": [f"p{i}/{k}.jpg" for k, i in enumerate(ident)],
        "identity": [f"p{i}" for i in ident],
        "embedding": pa.FixedSizeListArray.from_arrays(pa.array(emb.ravel()), 32),
    })
    pq.write_table(table, tmp_path / "e.parquet")
    rows = ["identity,sex"] + [f"p{i},{'female' if i % 2 else 'male'}" for i in range(n)]
    (tmp_path / "a.csv").write_text("\n".join(rows) + "\n")
    return tmp_path / "e.parquet", tmp_path / "a.csv"


def _audit(templates, out, *extra):
    emb, attrs = templates
    return run("--embeddings", emb, "--attributes", attrs, "--by", "sex", "--mode",
               "identification", "--out", out, "--bootstrap", 100, "--repeats", 5, *extra)


def test_identification_report_json_and_terminal(templates, tmp_path):
    out = tmp_path / "o"
    result = _audit(templates, out, "--fmr", "1e-2,1e-3", "--gallery-size", "10,50,1e4",
                    "--candidates", "5")
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert report["schema"] == "faceaudit.audit/2"
    assert report["provenance"]["protocol"] == "identification"
    section = report["identification"]
    assert section["protocol"]["repeats"] == 5 and section["protocol"]["candidates"] == 5
    assert section["gallery"]["subjects"] == 100
    points = section["operating_points"]
    assert [p["target_fmr"] for p in points] == [1e-2, 1e-3]
    assert points[0]["threshold"] < points[1]["threshold"]
    assert "impostor" in points[0]["threshold_source"]  # no backend: the data's own impostors
    groups = {g["group"]: g for g in points[1]["groups"]}
    # the noisier group's mates are missed more often
    assert groups["female"]["fnir"]["value"] > groups["male"]["fnir"]["value"]
    for g in groups.values():
        assert g["fpir"]["low"] <= g["fpir"]["value"] <= g["fpir"]["high"]
        assert g["non_mated_searches"] + g["mated_searches"] > 0
    sizes = [s["size"] for s in points[1]["gallery_sizes"]]
    assert sizes == [10, 50, 100, 10_000]
    assert any("predicted" in w and "10,000" in w for w in report["warnings"])
    # the terminal says it too
    assert "FPIR" in result.output and "female" in result.output
    assert "N=10,000 (predicted only)" in result.output
    assert (out / "report.html").stat().st_size > 0


def test_json_summary_and_gate_rules(templates, tmp_path):
    result = _audit(templates, tmp_path / "o", "--json", "--fail-if", "fnir_ratio>1.01",
                    "--fail-if", "fpir_ratio>1000")
    assert result.exit_code == 3, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["mode"] == "identification"
    assert [r["status"] for r in summary["gate"]["rules"]] == ["fail", "pass"]
    primary = summary["operating_points"][1]
    assert primary["target_fmr"] == 1e-3
    fnir = [g["fnir"]["value"] for g in primary["groups"]]
    assert summary["gate"]["rules"][0]["value"] == pytest.approx(max(fnir) / min(fnir))


def test_policy_file_sets_the_operating_point(templates, tmp_path):
    policy = tmp_path / "policy.toml"
    policy.write_text("fmr_target = 0.01\nmax_candidates = 3\n")
    out = tmp_path / "o"
    result = _audit(templates, out, "--policy", policy)
    assert result.exit_code == 0, result.output
    point, = json.loads((out / "report.json").read_text())["identification"]["operating_points"]
    assert point["target_fmr"] == 0.01 and point["candidates"] == 3


@pytest.mark.parametrize(("extra", "message"), [
    (["--mode", "search"], "--mode must be one of"),
    (["--gallery-size", "1e3,lots"], "--gallery-size"),
    (["--gallery-size", "0.5"], "--gallery-size"),
    (["--gallery-templates", "some"], "not 'some' (--gallery-templates)"),
    (["--pairs", "x.csv"], "--pairs applies to the verification audit only"),
])
def test_bad_identification_input_is_one_line_exit_2(templates, tmp_path, extra, message):
    emb, attrs = templates
    result = run("--embeddings", emb, "--attributes", attrs, "--by", "sex", "--mode",
                 "identification", "--out", tmp_path / "o", *extra)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_identification_needs_templates(tmp_path):
    (tmp_path / "s.csv").write_text("score,genuine,group_a,group_b\n0.1,false,a,b\n")
    result = run("--scores", tmp_path / "s.csv", "--mode", "identification")
    assert result.exit_code == 2
    assert "searches templates" in result.output


def test_identification_page_in_headless_chromium(templates, tmp_path):
    out = tmp_path / "o"
    assert _audit(templates, out, "--gallery-size", "10,1e4").exit_code == 0
    page = out / "report.html"
    dom, console = open_in_chromium(page.resolve().as_uri(), tmp_path / "profile", "--dump-dom")
    assert console == []
    for heading in ("1:N identification", "Who is returned as an innocent candidate",
                    "FPIR against gallery size"):
        assert re.search(rf"<h[23][^>]*>{re.escape(heading)}</h[23]>", dom), heading
    report = json.loads((out / "report.json").read_text())
    point = report["identification"]["operating_points"][1]
    female = next(g for g in point["groups"] if g["group"] == "female")
    assert format(female["fpir"]["value"], ".3g") in dom
    assert "10,000 (prediction only)" in dom
    assert dom.count('<img src="data:image/png;base64,') >= 3
    for alt in ("FPIR and FNIR per probe group", "share of non-mated searches returning an "
                "innocent candidate", "FPIR against gallery size per probe group"):
        assert alt in dom
    shot = tmp_path / "shot.png"
    _, console = open_in_chromium(page.resolve().as_uri(), tmp_path / "profile",
                                  f"--screenshot={shot}", "--window-size=1280,3000")
    assert console == []
    with Image.open(shot) as img:
        assert len(img.convert("L").getcolors(maxcolors=1 << 16) or range(256)) > 50


def test_identification_audits_one_model(templates, tmp_path):
    emb, attrs = templates
    result = run("--embeddings", emb, "--embeddings", emb, "--attributes", attrs, "--by", "sex",
                 "--mode", "identification", "--out", tmp_path / "o")
    assert result.exit_code == 2
    assert "audits one model" in result.output and "(--mode)" in result.output
