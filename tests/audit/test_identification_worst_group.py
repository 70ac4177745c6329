"""The 1:N worst-group operating point (``--operating-points`` with ``--mode
identification``, issue 24): each grid row's FPIR and FNIR are the counts of a separate audit
at that one threshold, and a brute-force reading of the grid's rule (lowest threshold at which
every supported probe group's FPIR upper bound is within the target FPIR) finds the
recommended row; the report's JSON, terminal and HTML carry it."""

from __future__ import annotations

import json
import math

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from faceaudit.audit import metrics
from faceaudit.audit.identification import SplitSettings, hits_at, run_identification
from faceaudit.audit.identification_grid import grid_levels
from faceaudit.audit.identification_report import identification_section
from faceaudit.cli import app

TARGET = 0.1


def _templates(n=160, seed=4):
    """``n`` identities × 3 templates in 32 dimensions; odd identities (group b) noisier."""
    rng = np.random.default_rng(seed)
    ident = np.repeat(np.arange(n), 3)
    noise = np.where(ident % 2 == 1, 1.0, 0.75)[:, None]
    emb = rng.standard_normal((n, 32))[ident] + noise * rng.standard_normal((len(ident), 32))
    emb = (emb / np.linalg.norm(emb, axis=1, keepdims=True)).astype(np.float32)
    return emb, np.array([f"p{i}" for i in ident]), (ident % 2).astype(np.intp)


def test_one_pass_hit_counts_match_one_comparison_per_threshold():
    rng = np.random.default_rng(1)
    for _ in range(20):
        scores = rng.normal(size=(31, 17)).astype(np.float32)
        thresholds = rng.normal(size=int(rng.integers(1, 12)))
        thresholds[0] = float(scores[0, 0])  # a tie: at the threshold counts
        brute = np.stack([(scores >= t).sum(axis=1) for t in thresholds])
        assert (hits_at(scores, thresholds) == brute).all()


@pytest.fixture(scope="module")
def grid_case():
    matrix, ids, groups = _templates()
    thresholds = [float(t) for t in np.linspace(0.3, 0.8, 26)]
    settings = SplitSettings(thresholds=thresholds, candidates=5, repeats=4, seed=3)
    counts = run_identification(matrix, ids, groups, ["a", "b"], settings)
    section = identification_section(
        counts, [{"target_fmr": None, "threshold": thresholds[0], "threshold_source": "test"}],
        requested_sizes=(), gallery_templates="one", enrol_share=0.5, seed=0, reps=200,
        confidence=0.95, min_identities=30, alpha=0.5,
        worst_group={TARGET: {t: 10.0 ** -t for t in range(1, len(thresholds))}})
    return matrix, ids, groups, settings, counts, section


def test_every_grid_row_is_the_count_of_an_audit_at_that_threshold(grid_case):
    matrix, ids, groups, settings, _, section = grid_case
    (entry,) = section["worst_group"]
    assert entry["target_fpir"] == TARGET and entry["grid"]
    for row in entry["grid"]:
        alone = run_identification(matrix, ids, groups, ["a", "b"], SplitSettings(
            thresholds=[row["threshold"]], candidates=5, repeats=4, seed=3))
        for g, got in enumerate(row["groups"]):
            mine = alone.unit_group == g
            assert got["fnir"]["errors"] == int(alone.miss[0][mine].sum())
            assert got["fnir"]["comparisons"] == int(alone.mated[mine].sum())
            assert got["non_mated_searches"] == int(alone.non_mated[mine].sum())
            if got["supported"]:
                assert got["fpir"]["errors"] == int(alone.false_positive[0][mine].sum())
                assert got["fpir"]["value"] == pytest.approx(
                    got["fpir"]["errors"] / got["non_mated_searches"])
        values = [g["fpir"]["value"] for g in row["groups"] if g["supported"]]
        ratio = row["summaries"]["fpir_ratio"]["value"]
        if min(values) > 0:
            assert ratio == pytest.approx(max(values) / min(values))


def test_the_recommended_row_is_the_lowest_with_every_upper_bound_within(grid_case):
    *_, counts, section = grid_case
    (entry,) = section["worst_group"]
    grid = entry["grid"]
    thresholds = [row["threshold"] for row in grid]
    assert thresholds == sorted(thresholds)
    supported = [metrics.supports(n, TARGET) for n in
                 (g["non_mated_searches"] for g in grid[0]["groups"])]
    assert all(supported)

    def within(row):
        return all(g["fpir"]["high"] is not None and g["fpir"]["high"] <= TARGET
                   for g in row["groups"] if g["supported"])

    # the grid starts at the lowest threshold whose every point FPIR is within the target
    everything = sorted(float(t) for t in counts.thresholds[1:])
    below = [t for t in everything if t < thresholds[0]]
    assert all(g["fpir"]["value"] <= TARGET for g in grid[0]["groups"])
    if below:  # and the grid threshold just below it leaves a group's point FPIR above
        k = int(np.flatnonzero(counts.thresholds == below[-1])[0])
        points = [counts.false_positive[k][counts.unit_group == g].sum()
                  / counts.non_mated[counts.unit_group == g].sum() for g in (0, 1)]
        assert max(points) > TARGET
    brute = next((row for row in grid if within(row)), None)
    assert brute is not None, "the design recommends a threshold"
    assert entry["recommended_threshold"] == brute["threshold"]
    assert [row["recommended"] for row in grid].count(True) == 1
    assert entry["recommended"]["threshold"] == brute["threshold"]
    # what it costs: each group's FNIR there, with its interval
    for g in entry["recommended"]["groups"]:
        assert g["fnir"]["low"] <= g["fnir"]["value"] <= g["fnir"]["high"]


def test_levels_reach_a_decade_beyond_the_gallery():
    levels = grid_levels(1e-2, 1000)
    assert levels[0] == 1e-2 and levels[-1] == pytest.approx(1e-2 / 1e4)
    assert all(b < a for a, b in zip(levels, levels[1:], strict=False))
    assert math.isclose(levels[1] / levels[0], 10 ** (-1 / 8))


def test_the_command_reports_the_1_to_n_worst_group_threshold(tmp_path):
    emb, ids, groups = _templates()
    table = pa.table({
        "path": [f"{i}/{k}.jpg" for k, i in enumerate(ids)], "identity": list(ids),
        "embedding": pa.FixedSizeListArray.from_arrays(pa.array(emb.ravel()), 32)})
    pq.write_table(table, tmp_path / "e.parquet")
    (tmp_path / "a.csv").write_text("identity,sex\n" + "".join(
        f"p{i},{'female' if i % 2 else 'male'}\n" for i in range(160)))
    out = tmp_path / "o"
    result = CliRunner().invoke(app, [
        "audit", "--embeddings", str(tmp_path / "e.parquet"), "--attributes",
        str(tmp_path / "a.csv"), "--by", "sex", "--mode", "identification", "--out", str(out),
        "--bootstrap", "100", "--repeats", "3", "--fmr", "1e-1", "--operating-points"])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    (entry,) = report["identification"]["worst_group"]
    assert entry["target_fpir"] == 0.1 and entry["recommended_threshold"] is not None
    assert f"worst-group threshold at FPIR 0.1: {entry['recommended_threshold']!r}" \
        in result.stdout.replace("\n", "")
    page = (out / "report.html").read_text()
    assert page.count("Worst-group operating point (1:N)") == 1
    assert "Target FPIR 1e-1" in page
    line = CliRunner().invoke(app, [
        "audit", "--embeddings", str(tmp_path / "e.parquet"), "--attributes",
        str(tmp_path / "a.csv"), "--by", "sex", "--mode", "identification", "--out",
        str(tmp_path / "j"), "--bootstrap", "50", "--repeats", "2", "--fmr", "1e-1",
        "--operating-points", "--json"])
    assert json.loads(line.stdout)["worst_group"][0]["target_fpir"] == 0.1
