"""Models compared on the same data: paired differences and their intervals (compute layer).

Synthetic scores tables with known per-group score distributions: the true difference between
two models' rates is known in closed form, and the paired interval must cover it.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from faceaudit.audit.comparison import PairedResamples, differences, excludes_zero
from faceaudit.audit.engine import AuditSettings
from faceaudit.audit.inputs import ScoresTable
from faceaudit.audit.run import audit_scores
from faceaudit.base.errors import InputDataError

TARGET = 1e-2


def _phi(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2))


def _z(p: float) -> float:
    """Standard normal quantile by bisection (no scipy needed)."""
    lo, hi = -10.0, 10.0
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if _phi(mid) < p else (lo, mid)
    return (lo + hi) / 2


def _layout(rng, n_ids=80, per_id=4, n_imp=30_000):
    """Two groups of ``n_ids`` identities; genuine pairs within each identity, random impostor
    pairs of identities (any groups)."""
    genuine_per_id = per_id * (per_id - 1) // 2
    gen_a = gen_b = np.repeat(np.arange(2 * n_ids), genuine_per_id)
    imp_a = rng.integers(0, 2 * n_ids, n_imp)
    imp_b = (imp_a + rng.integers(1, 2 * n_ids, n_imp)) % (2 * n_ids)
    sa = np.r_[gen_a, imp_a]
    sb = np.r_[gen_b, imp_b]
    genuine = np.r_[np.ones(len(gen_a), bool), np.zeros(n_imp, bool)]
    group = np.where(np.arange(2 * n_ids) < n_ids, "a", "b")
    return sa, sb, genuine, group


def _table(score, sa, sb, genuine, group) -> ScoresTable:
    return ScoresTable(
        score=np.asarray(score, dtype=np.float64),
        genuine=genuine,
        group_a=group[sa].tolist(),
        group_b=group[sb].tolist(),
        subject_a=[f"s{x}" for x in sa],
        subject_b=[f"s{x}" for x in sb],
    )


def _paired_audits(tables, reps=400, seed=3):
    settings = AuditSettings(targets=[TARGET], reps=reps, seed=seed)
    paired = PairedResamples(reps, seed)
    reports = [
        audit_scores(t, settings, input_path=f"model{i}", paired=paired)
        for i, t in enumerate(tables)
    ]
    return reports, paired


def _diff(reports, paired, metric, group):
    values = np.array(
        [next(g for g in r["targets"][0]["groups"] if g["group"] == group)[metric]["value"]
         for r in reports]
    )
    reps = np.stack([p[TARGET, metric, group] for p in paired.replicates], axis=1)
    d, low, high = differences(values, reps)
    return float(d[0]), float(low[0]), float(high[0])


def test_differences_are_per_replicate_differences_from_model_zero():
    values = np.array([0.10, 0.30, 0.05])
    reps = np.array([[0.1, 0.2, 0.0], [0.2, 0.5, 0.1], [0.0, 0.3, 0.1], [0.1, 0.4, 0.2]])
    diff, low, high = differences(values, reps, confidence=0.5)
    np.testing.assert_allclose(diff, [0.20, -0.05])
    # replicate differences: model 1 [0.1, 0.3, 0.3, 0.3], model 2 [-0.1, -0.1, 0.1, 0.1]
    np.testing.assert_allclose(low, [0.25, -0.1])
    np.testing.assert_allclose(high, [0.3, 0.1])
    assert excludes_zero(low, high).tolist() == [True, False]
    d, lo, hi = differences(values)  # no replicates: no interval
    assert np.isnan(lo).all() and np.isnan(hi).all()
    with pytest.raises(InputDataError):
        differences(np.array([0.1]))
    with pytest.raises(InputDataError):
        differences(values, reps[:, :2])


def test_a_model_against_itself_differs_by_exactly_zero_in_every_replicate():
    """Pairing: the same resampled identities for both models, so identical models give the
    interval [0, 0]. Independently drawn resamples would scatter the difference."""
    rng = np.random.default_rng(0)
    sa, sb, genuine, group = _layout(rng, n_ids=40, n_imp=8000)
    score = np.where(genuine, rng.normal(3.0, 1.0, len(genuine)), rng.normal(0, 1, len(genuine)))
    table = _table(score, sa, sb, genuine, group)
    reports, paired = _paired_audits([table, table], reps=200)
    for metric in ("fmr", "fnmr", "accuracy"):
        for g in ("a", "b"):
            assert _diff(reports, paired, metric, g) == (0.0, 0.0, 0.0)
    # the same two audits on independent resamples (seeds 3 and 4) do scatter
    unpaired = [paired.replicates[0], _paired_audits([table], reps=200, seed=4)[1].replicates[0]]
    spread = unpaired[1][TARGET, "fnmr", "b"] - unpaired[0][TARGET, "fnmr", "b"]
    assert np.ptp(spread) > 0.01


def test_paired_interval_covers_a_known_difference_and_excludes_zero():
    """Model A: impostor ~ N(0, 1), genuine ~ N(3.5, 1). Model B: A's score plus independent
    N(0, 0.3²) noise on every comparison, and group b's genuine scores lowered by 1. At each
    model's own threshold for FMR 1e-2, FNMR_B − FNMR_A is known per group in closed form."""
    rng = np.random.default_rng(1)
    sa, sb, genuine, group = _layout(rng)
    n = len(genuine)
    score_a = np.where(genuine, rng.normal(3.5, 1.0, n), rng.normal(0.0, 1.0, n))
    in_b = group[sa] == "b"
    score_b = score_a + rng.normal(0, 0.3, n) - np.where(genuine & in_b, 1.0, 0.0)
    reports, paired = _paired_audits(
        [_table(score_a, sa, sb, genuine, group), _table(score_b, sa, sb, genuine, group)]
    )
    sd_b = math.sqrt(1 + 0.3**2)
    t_a, t_b = _z(1 - TARGET), _z(1 - TARGET) * sd_b
    truth = {
        "a": _phi((t_b - 3.5) / sd_b) - _phi(t_a - 3.5),
        "b": _phi((t_b - 2.5) / sd_b) - _phi(t_a - 3.5),
    }
    for g, true_diff in truth.items():
        diff, low, high = _diff(reports, paired, "fnmr", g)
        assert low <= true_diff <= high, (g, true_diff, low, high)
        assert abs(diff - true_diff) < 0.05
    # group b got worse by ~0.35: the interval excludes zero
    _, low, high = _diff(reports, paired, "fnmr", "b")
    assert low > 0.2
    # the FMR of each group at its model's own threshold: both ~1e-2, no real difference
    diff, low, high = _diff(reports, paired, "fmr", "b")
    assert low <= 0.0 <= high
    # each model has its own threshold for the same target
    thresholds = [r["targets"][0]["threshold"] for r in reports]
    assert thresholds[1] > thresholds[0] + 0.02


def test_models_resting_on_different_identities_cannot_be_paired():
    rng = np.random.default_rng(2)
    sa, sb, genuine, group = _layout(rng, n_ids=40, n_imp=5000)
    score = np.where(genuine, rng.normal(3.0, 1.0, len(genuine)), rng.normal(0, 1, len(genuine)))
    other = rng.permutation(group)  # the same identities, other groups
    settings = AuditSettings(targets=[TARGET], reps=50)
    paired = PairedResamples(50, 0)
    audit_scores(_table(score, sa, sb, genuine, group), settings, input_path="a", paired=paired)
    with pytest.raises(InputDataError, match="same identities"):
        audit_scores(_table(score, sa, sb, genuine, other), settings, input_path="b",
                     paired=paired)


def test_given_weights_replace_the_seeded_draw():
    """bootstrap_with_pairs applies exactly the weights it is given, whatever its seed."""
    from faceaudit.audit.bootstrap import bootstrap_with_pairs, draw_weights

    rng = np.random.default_rng(5)
    unit_group = np.repeat([0, 1], 30)
    errors = rng.integers(0, 5, (60, 3)).astype(float)
    comparisons = errors + rng.integers(1, 20, (60, 3))
    weights = draw_weights(unit_group, 100, seed=11)
    assert weights.shape == (100, 60)
    # each replicate keeps group sizes: 30 draws per group
    np.testing.assert_array_equal(weights[:, :30].sum(1), 30)
    for seed in (0, 1):
        one, two = bootstrap_with_pairs(
            unit_group, errors, comparisons, 100, seed, None, 2, weights=weights
        )
        np.testing.assert_allclose(one, (weights @ errors) / (weights @ comparisons))
        assert two is None
    with pytest.raises(InputDataError, match="weights"):
        bootstrap_with_pairs(unit_group, errors, comparisons, 50, 0, None, 2, weights=weights)


def _mini_report(fmr_a, fmr_b, ratio):
    def est(v):
        return {"value": v, "low": None, "high": None}

    return {
        "schema": "faceaudit.audit/2",
        "groups": ["a", "b"],
        "provenance": {"by": ["sex"], "input": "x"},
        "targets": [
            {
                "target_fmr": TARGET,
                "threshold": 0.5,
                "supported": True,
                "achieved_fmr": TARGET,
                "groups": [
                    {"group": "a", "fmr": est(fmr_a), "fnmr": est(0.1), "accuracy": est(0.9)},
                    {"group": "b", "fmr": est(fmr_b), "fnmr": est(0.1), "accuracy": est(0.9)},
                ],
                "summaries": {"fmr_ratio": est(ratio)},
            }
        ],
    }


def test_section_rows_say_when_a_difference_has_no_value_or_no_finite_interval():
    from faceaudit.audit.comparison_report import UNBOUNDED, comparison_section

    reps = np.linspace(0.0, 0.02, 50)
    base = {(TARGET, "fmr", "a"): reps, (TARGET, "fmr", "b"): reps,
            (TARGET, "summary", "fmr_ratio"): np.r_[np.full(5, np.inf), np.ones(45)]}
    worse = dict(base)
    worse[TARGET, "fmr", "a"] = reps + 0.05
    worse[TARGET, "summary", "fmr_ratio"] = np.r_[np.ones(45), np.full(5, np.inf)]
    section = comparison_section(
        ["m0", "m1"], [_mini_report(0.01, 0.01, 1.0), _mini_report(0.06, None, 6.0)],
        [base, worse],
    )
    rows = {(r["metric"], r["group"]): r for r in section["targets"][0]["rows"]}
    a = rows["fmr", "a"]["differences"][0]
    assert a["value"] == pytest.approx(0.05) and a["excludes_zero"] is True
    assert a["low"] == pytest.approx(0.05) and a["high"] == pytest.approx(0.05)
    b = rows["fmr", "b"]["differences"][0]
    assert b["value"] is None and b["note"] == "a model has no estimate"
    ratio = rows["fmr_ratio", None]["differences"][0]
    assert ratio["value"] == 5.0 and ratio["excludes_zero"] is None
    assert ratio["note"] == UNBOUNDED
    # a row per rate and group, then the summaries the reports hold
    assert [k for k in rows][:3] == [("fmr", "a"), ("fnmr", "a"), ("accuracy", "a")]
