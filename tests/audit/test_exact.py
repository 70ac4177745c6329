"""Exactness: every rate the audit reports equals a brute-force ``score >= threshold`` count on
the raw rows, for template bins (ties on the printed edges) and for scores tables on any scale."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from faceaudit.audit.engine import AuditSettings, analyse_scores
from faceaudit.audit.scoring import EDGES, quantise, score_table
from faceaudit.cli import app


def run(*args):
    return CliRunner().invoke(app, ["audit", *(str(a) for a in args)])


# --- template bins ------------------------------------------------------------------------------

_EDGE_INDEX = st.integers(0, len(EDGES) - 1)


@st.composite
def _near_edges(draw, dtype):
    """Scores on, just below and just above printed edges (as float32 or float64)."""
    k = draw(_EDGE_INDEX)
    edge = EDGES[k]
    kind = draw(st.sampled_from(["on", "below", "above", "f32"]))
    if kind == "below":
        value = np.nextafter(edge, -2.0)
    elif kind == "above":
        value = np.nextafter(edge, 2.0)
    elif kind == "f32":
        value = float(np.float32(edge))  # float32(0.3619) is below 0.3619
    else:
        value = edge
    return dtype(value)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_template_bins_agree_with_a_ge_comparison_on_the_printed_edges(dtype, data):
    scores = np.array(data.draw(st.lists(_near_edges(dtype), min_size=1, max_size=200)), dtype)
    bins = quantise(scores)
    brute = np.maximum(np.searchsorted(EDGES, scores.astype(np.float64), side="right") - 1, 0)
    np.testing.assert_array_equal(bins, brute)
    # so "bin >= k" is exactly "score >= EDGES[k]" (bin 0 also holds scores below -1)
    for k in np.unique(bins[bins > 0]):
        np.testing.assert_array_equal(bins >= k, scores.astype(np.float64) >= EDGES[k])


def test_four_decimal_scores_land_in_their_own_bin():
    scores = np.round(np.random.default_rng(0).uniform(-1, 1, 100_000), 4)
    k = quantise(scores)
    np.testing.assert_array_equal(EDGES[k], scores)


@st.composite
def _tied_table(draw):
    """Two groups of scores drawn from a few printed edges (heavy ties) plus noise."""
    values = draw(st.lists(_near_edges(np.float64), min_size=2, max_size=6, unique=True))
    n_imp = draw(st.integers(300, 700))
    n_gen = draw(st.integers(5, 40))
    seed = draw(st.integers(0, 2**31))
    rng = np.random.default_rng(seed)
    n = 2 * (n_imp + n_gen)
    score = rng.choice(np.asarray(values), n)
    noise = rng.random(n) < 0.3
    score[noise] = np.round(rng.uniform(-1, 1, int(noise.sum())), 4)
    genuine = np.r_[np.zeros(2 * n_imp, bool), np.ones(2 * n_gen, bool)]
    group = np.r_[np.repeat([0, 1], n_imp), np.repeat([0, 1], n_gen)]
    return score, genuine, group


def _brute(score, genuine, group, threshold, g, higher=True, group_b=None):
    match = score >= threshold if higher else score <= threshold
    within = (group == g) & ((group if group_b is None else group_b) == g)
    imp, gen = ~genuine & within, genuine & within
    return match[imp].mean(), (~match[gen]).mean()


def _check_rates(score, genuine, group, entries, higher=True, group_b=None):
    for entry in entries:
        thr = entry["threshold"]
        imp = ~genuine
        match = score >= thr if higher else score <= thr
        assert match[imp].mean() == entry["achieved_fmr"] <= entry["target_fmr"]
        for g, row in enumerate(entry["groups"]):
            fmr, fnmr = _brute(score, genuine, group, thr, g, higher, group_b)
            if row["fmr"]["value"] is not None:
                assert row["fmr"]["value"] == pytest.approx(fmr, abs=1e-12)
            assert row["fnmr"]["value"] == pytest.approx(fnmr, abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(table=_tied_table())
def test_template_grid_rates_equal_brute_force_counts_with_ties_on_edges(table):
    score, genuine, group = table
    scores = score_table(score, genuine, group, group, ["a", "b"], edges=EDGES)
    targets = (1e-1, 1e-2)
    out = analyse_scores(scores, AuditSettings(targets=targets, reps=0)).sections
    entries = [e for e in out["targets"] if e["supported"]]
    _check_rates(score, genuine, group, entries)
    imp = score[~genuine]
    for entry in entries:  # the next lower printed edge would exceed the target
        k = int(np.searchsorted(EDGES, entry["threshold"]))
        assert np.r_[EDGES, 1.0001][k] == entry["threshold"]  # an edge, or above the last one
        assert (imp >= EDGES[k - 1]).mean() > entry["target_fmr"]


# --- scores tables: exact on any scale ------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    table=_tied_table(),
    scale=st.sampled_from([1.0, 100.0, 1e-3, -7.0]),
    shift=st.sampled_from([0.0, 50.0, -3.5]),
)
def test_scores_table_thresholds_are_exact_impostor_scores(table, scale, shift):
    score, genuine, group = table
    score = score * scale + shift
    higher = scale > 0
    scores = score_table(
        score, genuine, group, group, ["a", "b"], targets=(1e-1, 1e-2), higher_is_better=higher
    )
    out = analyse_scores(scores, AuditSettings(targets=(1e-1, 1e-2), reps=0)).sections
    entries = [e for e in out["targets"] if e["supported"]]
    _check_rates(score, genuine, group, entries, higher)
    sim = score if higher else -score
    imp = np.sort(sim[~genuine])
    for entry in entries:
        thr = entry["threshold"] if higher else -entry["threshold"]
        below = imp[imp < thr]
        if below.size:  # the next lower impostor score would exceed the target
            assert (imp >= below[-1]).mean() > entry["target_fmr"]
        assert thr in imp or thr > imp[-1]


def _vendor_rows(rng):
    """A vendor-style table: 4 decimals on a 0-100 scale, ties, three groups, subjects."""
    rows = []
    for g, shift in (("a", 0.0), ("b", 3.0), ("c", 1.5)):
        for s in range(40):
            for _ in range(3):
                rows.append((round(float(rng.normal(70, 8)), 4), True, g, g, f"{g}{s}", f"{g}{s}"))
        for _ in range(4000):
            x, y = rng.choice(40, 2, replace=False)
            value = round(float(np.clip(rng.normal(30 + shift, 9), 0, 100)), 4)
            rows.append((value, False, g, g, f"{g}{x}", f"{g}{y}"))
    for i in range(40):  # ties at one value, across groups
        rows.append((55.5555, False, "a", "b", f"a{i}", f"b{i}"))
    return rows


def _write(path, rows, scale):
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["score", "genuine", "group_a", "group_b", "subject_a", "subject_b"])
        for score, *rest in rows:
            w.writerow([score / scale, *rest])


def test_vendor_table_on_0_100_and_0_1_gives_identical_exact_rates(tmp_path):
    rows = _vendor_rows(np.random.default_rng(8))
    reports = {}
    for scale in (1, 100):
        path = tmp_path / f"scores{scale}.csv"
        _write(path, rows, scale)
        out = tmp_path / f"out{scale}"
        result = run("--scores", path, "--out", out, "--bootstrap", 0, "--fmr", "1e-2,5e-3,1e-3")
        assert result.exit_code == 0, result.output
        reports[scale] = json.loads((out / "report.json").read_text())
    score = np.array([r[0] for r in rows])
    genuine = np.array([r[1] for r in rows])
    ga = np.array([r[2] for r in rows])
    gb = np.array([r[3] for r in rows])
    for t_raw, t_unit in zip(reports[1]["targets"], reports[100]["targets"], strict=True):
        assert t_raw["supported"] and t_unit["supported"]
        assert t_raw["threshold"] == pytest.approx(100 * t_unit["threshold"], rel=1e-12)
        assert t_raw["achieved_fmr"] <= t_raw["target_fmr"]
        for raw, unit in zip(t_raw["groups"], t_unit["groups"], strict=True):
            for m in ("fmr", "fnmr"):
                assert raw[m]["value"] == unit[m]["value"]
            g = raw["group"]
            within = (ga == g) & (gb == g)
            match = score >= t_raw["threshold"]
            want_fmr = match[within & ~genuine].mean()
            want_fnmr = (~match[within & genuine]).mean()
            assert raw["fmr"]["value"] == pytest.approx(want_fmr, abs=1e-12)
            assert raw["fnmr"]["value"] == pytest.approx(want_fnmr, abs=1e-12)
    assert reports[1]["provenance"]["threshold_rule"] == "impostor-scores"


def test_issue_repro_ties_at_a_four_decimal_score(tmp_path):
    """2 × 3,000 impostors at 0.0, seven at 0.3619 in A, five genuine pairs per group at 0.3619."""
    rows = [(0.0, False, g, g) for g in "AB" for _ in range(3000)]
    rows += [(0.3619, False, "A", "A")] * 7
    rows += [(0.3619, True, g, g) for g in "AB" for _ in range(5)]
    path = tmp_path / "s.csv"
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["score", "genuine", "group_a", "group_b"])
        w.writerows(rows)
    result = run("--scores", path, "--out", tmp_path / "o", "--fmr", "1e-3", "--bootstrap", 0)
    assert result.exit_code == 0, result.output
    entry = json.loads((tmp_path / "o" / "report.json").read_text())["targets"][0]
    score = np.array([r[0] for r in rows])
    genuine = np.array([r[1] for r in rows])
    group = np.array([r[2] == "B" for r in rows]).astype(int)
    _check_rates(score, genuine, group, [entry])
    # 7 of 6,007 impostors tie at 0.3619 (FMR 1.17e-3 > 1e-3): the threshold must lie above it
    assert entry["threshold"] > 0.3619 and entry["achieved_fmr"] == 0.0
    assert [g["fnmr"]["value"] for g in entry["groups"]] == [1.0, 1.0]


def test_template_grid_repro_threshold_is_the_edge_above_the_ties():
    score = np.r_[np.zeros(6000), np.full(7, 0.3619), np.full(10, 0.3619)]
    genuine = np.r_[np.zeros(6007, bool), np.ones(10, bool)]
    group = np.r_[np.repeat([0, 1], 3000), np.zeros(7, int), np.repeat([0, 1], 5)]
    scores = score_table(score, genuine, group, group, ["A", "B"], edges=EDGES)
    entry = analyse_scores(scores, AuditSettings(targets=(1e-3,), reps=0)).sections["targets"][0]
    assert entry["threshold"] == 0.362
    _check_rates(score, genuine, group, [entry])


def test_distances_with_lower_is_better(tmp_path):
    rows = _vendor_rows(np.random.default_rng(9))
    dist = [(100 - r[0], *r[1:]) for r in rows]
    for name, data in (("sim", rows), ("dist", dist)):
        _write(tmp_path / f"{name}.csv", data, 1)
    args = ["--bootstrap", 0, "--fmr", "1e-2,1e-3"]
    assert run("--scores", tmp_path / "sim.csv", "--out", tmp_path / "a", *args).exit_code == 0
    result = run(
        "--scores", tmp_path / "dist.csv", "--out", tmp_path / "b", "--lower-is-better", *args
    )
    assert result.exit_code == 0, result.output
    sim = json.loads((tmp_path / "a" / "report.json").read_text())
    dist_report = json.loads((tmp_path / "b" / "report.json").read_text())
    assert dist_report["provenance"]["higher_is_better"] is False
    for a, b in zip(sim["targets"], dist_report["targets"], strict=True):
        assert b["threshold"] == pytest.approx(100 - a["threshold"], abs=1e-9)
        for ra, rb in zip(a["groups"], b["groups"], strict=True):
            assert ra["fmr"]["value"] == rb["fmr"]["value"]
            assert ra["fnmr"]["value"] == rb["fnmr"]["value"]
    d = np.array([r[0] for r in dist])
    genuine = np.array([r[1] for r in dist])
    ga = np.array(["abc".index(r[2]) for r in dist])
    gb = np.array(["abc".index(r[3]) for r in dist])
    _check_rates(d, genuine, ga, dist_report["targets"], higher=False, group_b=gb)


@pytest.mark.parametrize(
    "cell, message",
    [("abc", "line 3: score 'abc' is not a number"), ("", "line 3: score is empty"),
     ("nan", "line 3: score is"), ("inf", "line 3: score is")],
)
def test_bad_score_names_its_row(tmp_path, cell, message):
    path = tmp_path / "s.csv"
    path.write_text(f"score,genuine,group_a,group_b\n0.5,false,a,b\n{cell},false,a,a\n")
    result = run("--scores", path, "--out", tmp_path / "o")
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    "row, message",
    [
        ("0.5,maybe,a,a", "line 3: 'genuine' must be true/false, not 'maybe'"),
        ("0.5,false, ,a", "line 3: empty 'group_a'"),
        ("0.5,false,a,", "line 3: empty 'group_b'"),
    ],
)
def test_bad_labels_name_their_row(tmp_path, row, message):
    path = tmp_path / "s.csv"
    path.write_text(f"score,genuine,group_a,group_b\n0.5,false,a,b\n{row}\n")
    result = run("--scores", path, "--out", tmp_path / "o")
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output


def test_labels_are_trimmed_and_encoded_without_python_rows(tmp_path):
    path = tmp_path / "s.csv"
    rows = ["score,genuine,group_a,group_b"]
    rows += [f"{i / 1000},{'impostor' if i % 7 else 'GENUINE'}, b ,a" for i in range(700)]
    rows += [f"{i / 1000},{'No' if i % 7 else 'yes'},a, a" for i in range(700)]
    path.write_text("\n".join(rows) + "\n")
    result = run("--scores", path, "--out", tmp_path / "o", "--fmr", "1e-2", "--bootstrap", 0)
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    assert report["groups"] == ["a", "b"]
    assert report["data"]["genuine_pairs"] == 200
