"""Compute, then present: the rates steps (arrays in, arrays out) and the section builders
that turn them into report sections, for the 1:1 and the 1:N audit."""

from __future__ import annotations

import numpy as np
import pytest

from faceaudit.audit import fairness
from faceaudit.audit.engine import AuditSettings, analyse_scores
from faceaudit.audit.frame import GroupFrame
from faceaudit.audit.identification import SplitSettings, run_identification
from faceaudit.audit.identification_rates import identification_rates
from faceaudit.audit.identification_report import identification_section, present_identification
from faceaudit.audit.rates import NO_GENUINE, named_replicates, score_rates
from faceaudit.audit.scoring import score_table
from faceaudit.audit.sections import score_sections


def _scores(seed=0, n_id=40, genuine_per=3, impostors=4000, shift=0.05):
    rng = np.random.default_rng(seed)
    cols = {k: [] for k in ("score", "genuine", "g", "sa", "sb")}
    for g in range(2):
        base = g * n_id
        subj = np.repeat(np.arange(n_id), genuine_per)
        a = rng.integers(0, n_id, impostors)
        b = (a + rng.integers(1, n_id, impostors)) % n_id
        cols["score"] += [rng.normal(0.6, 0.1, len(subj)), rng.normal(g * shift, 0.1, impostors)]
        cols["genuine"] += [np.ones(len(subj), bool), np.zeros(impostors, bool)]
        cols["sa"] += [base + subj, base + a]
        cols["sb"] += [base + subj, base + b]
        cols["g"] += [np.full(len(subj), g), np.full(impostors, g)]
    t = {k: np.concatenate(v) for k, v in cols.items()}
    return t, score_table(t["score"], t["genuine"], t["g"], t["g"], ["a", "b"], t["sa"], t["sb"],
                          targets=(1e-2,))


def test_group_frame_holds_replicates_on_the_last_axis():
    reps = np.array([[0.001, 0.002, 0.004], [0.002, 0.002, 0.001]])
    frame = GroupFrame(["a", "b", "c"], {"fmr": reps, "fnmr": reps * 10})
    np.testing.assert_allclose(frame.ratio("fmr"), [4, 2])
    np.testing.assert_allclose(frame.difference("fmr"), fairness.max_min_difference(reps))
    sub = frame.select([2, 0]).only(["fnmr"])
    assert sub.groups == ["c", "a"] and sub.metrics == ["fnmr"]
    np.testing.assert_allclose(sub.values("fnmr"), reps[:, [2, 0]] * 10)
    assert set(sub.summaries(0.5)) == {"fnmr_ratio", "fnmr_difference", "fnmr_max_geomean"}
    assert set(frame.summaries(0.5)) == {
        "fmr_ratio", "fnmr_ratio", "fmr_difference", "fnmr_difference", "inequity", "fdr",
        "garbe", "fmr_max_geomean", "fnmr_max_geomean",
    }


def test_score_rates_are_the_raw_counts_and_the_sections_present_them():
    t, scores = _scores()
    settings = AuditSettings(targets=(1e-2,), reps=50)
    rates = score_rates(scores, settings)
    at = rates.targets[0].at
    assert at is not None
    for g in range(2):
        mine = t["g"] == g
        imp = t["score"][mine & ~t["genuine"]]
        gen = t["score"][mine & t["genuine"]]
        assert at.point.values("fmr")[g] == np.mean(imp >= at.threshold)
        assert at.point.values("fnmr")[g] == np.mean(gen < at.threshold)
        assert at.false_matches[g, g] == np.sum(imp >= at.threshold)
    assert at.replicates is not None and at.replicates.values("fmr").shape == (50, 2)
    sections, warnings = score_sections(rates, settings)
    whole = analyse_scores(scores, settings)
    assert sections == whole.sections and warnings == whole.warnings
    assert whole.replicates.keys() == named_replicates(rates).keys()
    row = sections["targets"][0]["groups"][1]
    assert row["fmr"]["value"] == at.point.values("fmr")[1]


def test_a_group_without_genuine_pairs_is_left_out_as_data_and_named_in_words():
    t, _ = _scores()
    keep = ~(t["genuine"] & (t["g"] == 1))
    t = {k: v[keep] for k, v in t.items()}
    scores = score_table(t["score"], t["genuine"], t["g"], t["g"], ["a", "b"], t["sa"], t["sb"],
                         targets=(1e-2,))
    settings = AuditSettings(targets=(1e-2,), reps=0)
    rates = score_rates(scores, settings)
    at = rates.targets[0].at
    assert at is not None
    assert at.fnmr_only.left_out == {1: NO_GENUINE} and at.fnmr_only.point is None
    _, warnings = score_sections(rates, settings)
    assert "group 'b' has no genuine comparisons: no FNMR or EER for it" in warnings


def test_identification_rates_pool_the_counts_and_present_as_the_section():
    rng = np.random.default_rng(0)
    n = 60
    ident = np.repeat(np.arange(n), 3)
    emb = rng.standard_normal((n, 16))[ident] + 0.8 * rng.standard_normal((len(ident), 16))
    emb = (emb / np.linalg.norm(emb, axis=1, keepdims=True)).astype(np.float32)
    counts = run_identification(emb, ident.astype(str), ident % 2, ["a", "b"],
                                SplitSettings(thresholds=[0.5], candidates=3, repeats=4))
    rates = identification_rates(counts, requested_sizes=(), reps=40, seed=0, alpha=0.5)
    fpir = rates.points[0].fpir
    for g in range(2):
        mine = counts.unit_group == g
        assert fpir.errors[g] == counts.false_positive[0][mine].sum()
        assert fpir.value[g] == pytest.approx(fpir.errors[g] / counts.non_mated[mine].sum())
    points = [{"target_fmr": None, "threshold": 0.5, "threshold_source": "test"}]
    kwargs = dict(gallery_templates="one", enrol_share=0.5, seed=0, confidence=0.95,
                  min_identities=30)
    assert present_identification(rates, points, **kwargs) == identification_section(
        counts, points, requested_sizes=(), reps=40, alpha=0.5, **kwargs
    )
