"""Honest small samples and summaries said out loud: which groups a summary is over, why others
were left out, the identities behind each rate, and intervals that claim no false certainty."""

from __future__ import annotations

import numpy as np
import pytest

from faceaudit.audit.engine import AuditSettings, analyse_scores
from faceaudit.audit.gate import evaluate, parse_rule
from faceaudit.audit.report import build_report, provenance
from faceaudit.audit.scoring import score_table


def _table(spec, seed=0):
    """Rows per group: (identities, impostor pairs, genuine pairs per identity, impostor mean)."""
    rng = np.random.default_rng(seed)
    cols = {k: [] for k in ("score", "genuine", "g", "sa", "sb")}
    base = 0
    for g, (n_id, n_imp, gen_per, mu) in enumerate(spec):
        subj = np.repeat(np.arange(n_id), gen_per)
        cols["score"].append(rng.normal(0.6, 0.1, len(subj)))
        cols["genuine"].append(np.ones(len(subj), bool))
        cols["sa"].append(base + subj)
        cols["sb"].append(base + subj)
        a = rng.integers(0, n_id, n_imp)
        b = (a + rng.integers(1, max(n_id, 2), n_imp)) % max(n_id, 2)
        cols["score"].append(rng.normal(mu, 0.1, n_imp))
        cols["genuine"].append(np.zeros(n_imp, bool))
        cols["sa"].append(base + a)
        cols["sb"].append(base + b)
        cols["g"] += [np.full(len(subj), g), np.full(n_imp, g)]
        base += max(n_id, 2)
    return {k: np.concatenate(v) for k, v in cols.items()}


def _sections(t, names, targets, reps=200, min_identities=30):
    scores = score_table(
        t["score"], t["genuine"], t["g"], t["g"], names, t["sa"], t["sb"], targets=targets
    )
    settings = AuditSettings(targets=targets, reps=reps, min_identities=min_identities)
    return analyse_scores(scores, settings), settings


def test_a_group_without_fmr_support_is_named_and_fnmr_summaries_keep_it():
    t = _table([(60, 6000, 3, 0.0), (60, 6000, 3, 0.05), (50, 2658, 3, 0.02)])
    result, _ = _sections(t, ["A", "B", "C"], (1e-2, 1e-3), reps=0)
    low, high = result.sections["targets"]
    # at 1e-3 group C (2,658 impostor pairs < 3,000) is left out of FMR summaries, by name
    with_fmr = high["summary_groups"]["with_fmr"]
    assert with_fmr["groups"] == ["A", "B"]
    assert with_fmr["left_out"][0]["group"] == "C"
    assert "2,658" in with_fmr["left_out"][0]["reason"]
    assert "3,000" in with_fmr["left_out"][0]["reason"]
    assert high["summaries"]["fmr_ratio"]["groups"] == ["A", "B"]
    # FNMR-only summaries keep every group
    assert high["summaries"]["fnmr_ratio"]["groups"] == ["A", "B", "C"]
    assert high["summary_groups"]["fnmr_only"]["left_out"] == []
    # the target C cannot support does not hide C (or anything) at the target it can
    assert low["summaries"]["fmr_ratio"]["groups"] == ["A", "B", "C"]
    for key in ("fmr_ratio", "fmr_difference", "fdr", "ser", "std", "fnmr_difference"):
        assert low["summaries"][key]["value"] is not None, key
    assert any("left out: C" in w and "2,658" in w for w in result.warnings)


def test_gate_unevaluable_note_names_the_real_cause_with_numbers():
    t = _table([(60, 6000, 3, 0.0), (50, 2658, 3, 0.02)])
    result, settings = _sections(t, ["A", "B"], (1e-3,), reps=100)
    report = build_report(
        result.sections,
        provenance(settings, input_kind="scores", input_path="x", protocol="scores-table"),
        {},
        result.warnings,
        [],
    )
    gate = evaluate(report, [parse_rule("fmr_ratio>2"), parse_rule("fnmr_difference>0.5")])
    fmr_rule, fnmr_rule = gate["rules"]
    assert fmr_rule["status"] == "unevaluable"
    assert "2,658" in fmr_rule["note"] and "3,000" in fmr_rule["note"]
    assert "not available" not in fmr_rule["note"]
    assert fnmr_rule["status"] == "pass"  # FNMR summaries still hold both groups
    assert fnmr_rule["high"] < 0.5  # the whole interval is within the limit


def test_unsupported_target_note_gives_the_counts():
    t = _table([(60, 600, 3, 0.0), (60, 600, 3, 0.05)])
    result, _ = _sections(t, ["A", "B"], (1e-3,), reps=0)
    note = result.sections["targets"][0]["summaries"]["fmr_ratio"]["note"]
    assert "1,200" in note and "3,000" in note


def test_identities_behind_each_rate_and_small_sample_flags():
    t = _table([(60, 6000, 3, 0.0), (12, 6000, 3, 0.05)])
    result, _ = _sections(t, ["A", "B"], (1e-2,), reps=100)
    a, b = result.sections["targets"][0]["groups"]
    assert a["genuine_identities"] == 60 and a["fnmr"]["identities"] == 60
    assert b["genuine_identities"] == 12 and b["impostor_identities"] == 12
    assert not a["small_sample"] and b["small_sample"]
    assert b["fmr"]["small_sample"] and b["fnmr"]["small_sample"]
    assert any("fewer than 30 identities" in w and "'B'" in w for w in result.warnings)
    # the minimum is configurable
    result, _ = _sections(t, ["A", "B"], (1e-2,), reps=0, min_identities=10)
    assert not result.sections["targets"][0]["groups"][1]["small_sample"]


def test_zero_errors_get_an_exact_one_sided_upper_bound():
    t = _table([(60, 6000, 3, 0.0), (60, 6000, 3, 0.05)])
    t["score"][t["genuine"]] = 0.99  # no genuine comparison falls below any threshold
    result, _ = _sections(t, ["A", "B"], (1e-2,), reps=100)
    fnmr = result.sections["targets"][0]["groups"][0]["fnmr"]
    assert fnmr["value"] == 0 and fnmr["errors"] == 0 and fnmr["comparisons"] == 180
    assert fnmr["low"] == 0 and fnmr["high"] == pytest.approx(1 - 0.05 ** (1 / 180))
    assert fnmr["high"] == pytest.approx(3 / 180, rel=0.02)  # the rule of three
    assert fnmr["interval"] == "clopper-pearson"


def test_one_identity_gives_no_degenerate_interval():
    t = _table([(60, 6000, 3, 0.0), (1, 3000, 3, 0.05)])
    t["score"][np.flatnonzero(t["genuine"] & (t["g"] == 1))[0]] = -0.5  # one FNMR error of 3
    result, _ = _sections(t, ["A", "B"], (1e-2,), reps=100)
    fnmr = result.sections["targets"][0]["groups"][1]["fnmr"]
    assert fnmr["value"] == pytest.approx(1 / 3)
    assert fnmr["low"] is None and fnmr["high"] is None
    assert "one identity" in fnmr["interval_note"]


def test_undefined_bootstrap_replicates_are_counted():
    # group B: 3 identities, only one with genuine pairs: a resample without it has no genuine
    # comparison, so its FNMR is undefined ((2/3)^3 of replicates, about 30 %)
    t = _table([(60, 6000, 3, 0.0), (3, 3000, 0, 0.05)])
    extra = {"score": [0.2, 0.7], "genuine": [True, True], "g": [1, 1], "sa": [60, 60],
             "sb": [60, 60]}
    t = {k: np.r_[t[k], extra[k]] for k in t}
    result, _ = _sections(t, ["A", "B"], (1e-2,), reps=400)
    fnmr = result.sections["targets"][0]["groups"][1]["fnmr"]
    assert 60 < fnmr["undefined_replicates"] < 180
    assert any("bootstrap replicates were undefined" in w for w in result.warnings)


def test_cross_cells_without_a_false_match_get_the_exact_bound():
    t = _table([(60, 6000, 3, 0.0), (60, 6000, 3, 0.05)])
    cross = {"score": np.full(3000, -0.9), "genuine": np.zeros(3000, bool),
             "g": np.zeros(3000, int), "sa": np.arange(3000) % 60, "sb": 60 + np.arange(3000) % 60}
    t = {k: np.r_[t[k], cross[k]] for k in t}
    gb = np.r_[t["g"][:-3000], np.ones(3000, int)]
    scores = score_table(t["score"], t["genuine"], t["g"], gb, ["A", "B"], t["sa"], t["sb"],
                         targets=(1e-2,))
    entry = analyse_scores(scores, AuditSettings(targets=(1e-2,), reps=50)).sections["targets"][0]
    cell = entry["cross_fmr"]
    assert cell["fmr"][0][1] == 0 and cell["low"][0][1] == 0
    assert cell["high"][0][1] == pytest.approx(1 - 0.05 ** (1 / 3000))
    assert cell["high"][1][0] == cell["high"][0][1]
