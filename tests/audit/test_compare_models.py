"""Models side by side: ``faceaudit audit`` with several templates/score tables of the same data
(one report, a ``comparison`` section with paired intervals), inputs that do not cover the same
images or comparisons (exit 2), ``faceaudit compare`` of two existing reports, and the HTML in
a real headless Chromium."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from browser import open_in_chromium
from typer.testing import CliRunner

from faceaudit.cli import app


def audit(*args):
    return CliRunner().invoke(app, ["audit", *(str(a) for a in args)])


def compare(*args):
    return CliRunner().invoke(app, ["compare", *(str(a) for a in args)])


# --- synthetic inputs ---------------------------------------------------------------------------


def _write_scores(path: Path, seed: int, worse_male: float = 0.0, rows: slice | None = None):
    """Two groups of 50 identities, 3 genuine pairs each, 4,000 impostor pairs per group; the
    same comparisons for every ``seed`` (layout seeded separately), scores from ``seed``."""
    layout = np.random.default_rng(0)
    rng = np.random.default_rng(seed)
    out = []
    for g in ("female", "male"):
        for s in range(50):
            for _ in range(3):
                out.append((True, g, f"{g}{s}", f"{g}{s}"))
        for _ in range(4000):
            a, b = layout.choice(50, 2, replace=False)
            out.append((False, g, f"{g}{a}", f"{g}{b}"))
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["score", "genuine", "group_a", "group_b", "subject_a", "subject_b"])
        for genuine, g, sa, sb in out[rows] if rows else out:
            mean = (0.35 - (worse_male if g == "male" else 0.0)) if genuine else 0.0
            w.writerow([rng.normal(mean, 0.1), "true" if genuine else "false", g, g, sa, sb])
    return path


def _write_embeddings(path: Path, matrix: np.ndarray, paths: list[str], identities: list[str]):
    table = pa.table(
        {
            "path": paths,
            "identity": identities,
            "embedding": pa.FixedSizeListArray.from_arrays(
                pa.array(matrix.astype(np.float32).ravel()), matrix.shape[1]
            ),
        }
    )
    pq.write_table(table, path)
    return path


@pytest.fixture
def two_models(tmp_path):
    """Model A and model B (B's male genuine scores lower by 0.15) on the same comparisons."""
    return _write_scores(tmp_path / "A.csv", 1), _write_scores(tmp_path / "B.csv", 2, 0.15)


def _rows(report: dict, target: float) -> dict:
    entry = next(t for t in report["comparison"]["targets"] if t["target_fmr"] == target)
    return {(r["metric"], r["group"]): r for r in entry["rows"]}


# --- one audit, several models ------------------------------------------------------------------


def test_several_score_tables_give_one_report_with_paired_differences(two_models, tmp_path):
    a, b = two_models
    out = tmp_path / "out"
    result = audit("--scores", a, "--scores", b, "--fmr", "1e-2", "--bootstrap", 200,
                   "--out", out)
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    cmp = report["comparison"]
    assert [m["name"] for m in cmp["models"]] == ["A", "B"]
    assert cmp["baseline"] == "A" and cmp["paired"] is True
    assert "own threshold" in cmp["thresholds"]
    # the main report is the baseline's
    assert report["provenance"]["input"] == str(a)
    assert cmp["targets"][0]["models"][0]["threshold"] == report["targets"][0]["threshold"]
    rows = _rows(report, 1e-2)
    male = rows["fnmr", "male"]
    assert male["values"][0]["value"] == next(
        g for g in report["targets"][0]["groups"] if g["group"] == "male"
    )["fnmr"]["value"]
    diff = male["differences"][0]
    assert diff["model"] == "B"
    assert diff["value"] == pytest.approx(male["values"][1]["value"] - male["values"][0]["value"])
    assert diff["excludes_zero"] is True and diff["low"] > 0
    assert rows["fnmr_ratio", None]["differences"][0]["value"] is not None
    with (out / "comparison.csv").open() as f:
        table = list(csv.DictReader(f))
    assert len(table) == 2 * sum(len(t["rows"]) for t in cmp["targets"])
    b_male = next(r for r in table if r["metric"] == "fnmr" and r["group"] == "male"
                  and r["model"] == "B")
    assert float(b_male["difference_low"]) == pytest.approx(diff["low"])
    assert b_male["excludes_zero"] == "True"
    # terminal: the side-by-side table and what its intervals are
    assert "B − A" in result.output and "paired identity bootstrap" in result.output
    # --json carries the section too
    result = audit("--scores", a, "--scores", b, "--fmr", "1e-2", "--bootstrap", 50,
                   "--out", tmp_path / "o2", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["comparison"]["models"][1]["name"] == "B"


def test_score_tables_of_different_comparisons_are_refused(tmp_path):
    a = _write_scores(tmp_path / "A.csv", 1)
    short = _write_scores(tmp_path / "short.csv", 2, rows=slice(0, -5))
    swapped = tmp_path / "swapped.csv"
    lines = a.read_text().splitlines()
    cells = lines[5].split(",")
    lines[5] = ",".join(cells[:4] + ["female49", "female49"])  # another subject's genuine pair
    swapped.write_text("\n".join(lines) + "\n")
    for other, message in (
        (short, "comparisons"),
        (swapped, "differ in 'subject_a' on 1 rows (first: data row 5)"),
    ):
        result = audit("--scores", a, "--scores", other, "--out", tmp_path / "o")
        assert result.exit_code == 2, result.output
        assert message in result.output
        assert len(result.output.strip().splitlines()) == 1
        assert not (tmp_path / "o" / "report.json").exists()


def test_embeddings_of_different_images_are_refused(tmp_path):
    rng = np.random.default_rng(0)
    ids = [f"p{i}" for i in np.repeat(np.arange(40), 2)]
    paths = [f"{p}/{k}.jpg" for k, p in enumerate(ids)]
    emb = rng.standard_normal((len(ids), 8))
    a = _write_embeddings(tmp_path / "a.parquet", emb, paths, ids)
    b = _write_embeddings(tmp_path / "b.parquet", emb[1:], paths[1:], ids[1:])
    c = _write_embeddings(tmp_path / "c.parquet", emb, paths, ids[::-1])
    (tmp_path / "attrs.csv").write_text(
        "identity,sex\n" + "".join(f"p{i},{'female' if i % 2 else 'male'}\n" for i in range(40))
    )
    for other, message in ((b, "1 of a's images missing (p0/0.jpg)"),
                           (c, "different identities")):
        result = audit("--embeddings", a, "--embeddings", other, "--attributes",
                       tmp_path / "attrs.csv", "--by", "sex", "--out", tmp_path / "o")
        assert result.exit_code == 2, result.output
        assert message in result.output
        assert len(result.output.strip().splitlines()) == 1


def test_model_options_that_cannot_go_together_are_refused(two_models, tmp_path):
    a, b = two_models
    for args, message in (
        (["--scores", a, "--scores", a], "given twice"),
        (["--scores", a, "--backend", "dlib-resnet", "--backend", "dlib-native"], "DATA or --lfw"),
    ):
        result = audit(*args, "--out", tmp_path / "o")
        assert result.exit_code == 2, result.output
        assert message in result.output


# --- faceaudit compare ----------------------------------------------------------------------------


def test_compare_two_reports_side_by_side_without_a_paired_interval(two_models, tmp_path):
    a, b = two_models
    for path, name in ((a, "ra"), (b, "rb")):
        assert audit("--scores", path, "--fmr", "1e-2", "--bootstrap", 50,
                     "--out", tmp_path / name).exit_code == 0
    r1, r2 = tmp_path / "ra" / "report.json", tmp_path / "rb" / "report.json"
    result = compare(r1, r2, "--json")
    assert result.exit_code == 0, result.output
    cmp = json.loads(result.stdout)["comparison"]
    assert cmp["paired"] is False and "no paired interval" in cmp["note"]
    assert [m["name"] for m in cmp["models"]] == ["ra", "rb"]
    male = _rows({"comparison": cmp}, 1e-2)["fnmr", "male"]
    assert male["values"][0]["low"] is not None  # each report's own interval is kept
    assert male["differences"][0]["value"] > 0.1
    assert male["differences"][0]["low"] is None and male["differences"][0]["high"] is None
    result = compare(r1, r2, "--html", tmp_path / "cmp.html")
    assert result.exit_code == 0, result.output
    assert "no paired interval" in result.output and "rb − ra" in result.output
    page = (tmp_path / "cmp.html").read_text()
    assert "no paired interval" in page and "(no interval)" in page


def test_compare_refuses_reports_that_differ_in_targets_or_are_not_reports(two_models, tmp_path):
    a, _ = two_models
    assert audit("--scores", a, "--fmr", "1e-2", "--bootstrap", 0,
                 "--out", tmp_path / "r1").exit_code == 0
    assert audit("--scores", a, "--fmr", "1e-2,1e-3", "--bootstrap", 0,
                 "--out", tmp_path / "r2").exit_code == 0
    r1, r2 = tmp_path / "r1" / "report.json", tmp_path / "r2" / "report.json"
    other = json.loads(r1.read_text())
    other["schema"] = "faceaudit.audit/1"
    (tmp_path / "old.json").write_text(json.dumps(other))
    for args, message in (
        ([r1, r2], "different target FMRs"),
        ([r1, tmp_path / "old.json"], "different schema"),
        ([r1, a], "not a JSON audit report"),
        ([r1, tmp_path / "missing.json"], "no such file"),
        ([r1], "two or more reports"),
    ):
        result = compare(*args)
        assert result.exit_code == 2, (args, result.output)
        assert result.output.startswith("faceaudit: error: ") and message in result.output
        assert len(result.output.strip().splitlines()) == 1


# --- HTML in a real browser ---------------------------------------------------------------------


def test_report_and_compare_pages_render_side_by_side_tables_in_chromium(two_models, tmp_path):
    a, b = two_models
    out = tmp_path / "out"
    assert audit("--scores", a, "--scores", b, "--fmr", "1e-2", "--bootstrap", 100,
                 "--out", out).exit_code == 0
    report = json.loads((out / "report.json").read_text())
    male = _rows(report, 1e-2)["fnmr", "male"]["differences"][0]
    assert compare(out / "report.json", out / "report.json", "--html",
                   tmp_path / "self.html").exit_code == 2  # the same name twice
    (tmp_path / "ra").mkdir()
    (tmp_path / "ra" / "report.json").write_text((out / "report.json").read_text())
    for page in (out / "report.html", tmp_path / "cmp.html"):
        if page.name == "cmp.html":
            assert compare(tmp_path / "ra" / "report.json", out / "report.json",
                           "--html", page).exit_code == 0
        dom, console = open_in_chromium(page.resolve().as_uri(), tmp_path / "profile",
                                        "--dump-dom")
        assert console == [], console
        assert re.search(r"<h2[^>]*>Models compared</h2>", dom)
        assert "Models side by side at target FMR 1e-2" in dom
    dom = open_in_chromium((out / "report.html").resolve().as_uri(), tmp_path / "profile",
                           "--dump-dom")[0]
    # the paired difference and its interval, as in report.json
    assert f"{male['value']:+.3g}" in dom and "excludes 0" in dom
    assert re.search(r'<img src="data:image/png;base64,[^"]+" alt="Differences from the baseline',
                     dom)
