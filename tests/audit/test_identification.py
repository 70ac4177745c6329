"""The 1:N identification audit's numbers: an exact, hand-countable case, and synthetic data
whose per-group score distributions (hence FPIR and FNIR) are known in closed form."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import beta, hypergeom

from faceaudit.audit.identification import SplitSettings, predicted_fpir, run_identification
from faceaudit.audit.identification_report import identification_section
from faceaudit.base.errors import InputDataError
from faceaudit.gallery.template_search import exact_top_k, score_matrix, top_k_rows


def _section(counts, thresholds, reps=200, confidence=0.95, sizes=(), templates="one"):
    return identification_section(
        counts,
        [{"target_fmr": None, "threshold": t, "threshold_source": "test"} for t in thresholds],
        requested_sizes=sizes, gallery_templates=templates, enrol_share=0.5, seed=0, reps=reps,
        confidence=confidence, min_identities=30, alpha=0.5,
    )


def _by_group(point):
    return {g["group"]: g for g in point["groups"]}


def test_batched_search_ranks_as_the_single_query_search():
    rng = np.random.default_rng(3)
    gallery = rng.normal(size=(40, 8)).astype(np.float32)
    queries = rng.normal(size=(5, 8)).astype(np.float32)
    rows, scores = top_k_rows(score_matrix(gallery, queries), 7)
    for q in range(5):
        single_rows, single_scores = exact_top_k(gallery, queries[q], 7)
        assert rows[q].tolist() == single_rows.tolist()
        np.testing.assert_allclose(scores[q], single_scores, rtol=1e-5)
        assert rows[q].tolist() == np.argsort(-(gallery @ queries[q]), kind="stable")[:7].tolist()


def test_subjects_are_ranked_by_their_best_template():
    gallery = np.array([[1, 0], [0, 1], [0.6, 0.8], [0.8, 0.6]], dtype=np.float32)
    # subject 0: rows 0-1, subject 1: rows 2-3
    scores = score_matrix(gallery, np.array([[0, 1.0]]), np.array([0, 2]))
    np.testing.assert_allclose(scores, [[1.0, 0.8]])


def _exact_case():
    """Three look-alike identities of group a (identical images within an identity, 0.9
    across), one identity b of two dissimilar images (0.3), orthogonal to group a."""
    a = np.array([1.0, 0.0, 0.0, 0.0])
    look = [a * 0.9 + np.sqrt(1 - 0.81) * e for e in np.eye(4)[1:]]
    # a1, a2, a3: pairwise 0.9·0.9 = 0.81 (the orthogonal parts differ)
    b1 = np.array([0, 0, 0, 0, 1.0, 0])
    b2 = np.array([0, 0, 0, 0, 0.3, np.sqrt(1 - 0.09)])
    rows, ids, groups = [], [], []
    for i, v in enumerate(look):
        for _ in range(2):
            rows.append(np.r_[v, 0, 0])
            ids.append(f"a{i}")
            groups.append(0)
    for v in (b1, b2):
        rows.append(v)
        ids.append("b")
        groups.append(1)
    return np.array(rows, dtype=np.float32), np.array(ids), np.array(groups)


def test_exact_small_case_gives_exact_rates():
    """Two of four identities are enrolled, so at least one a identity always is: every
    non-mated search from group a returns a look-alike (0.81 >= 0.5), none from b does; a's
    mates score 1 and are found at rank 1; b's two images score 0.3 < 0.5, so its mated
    search always misses."""
    matrix, ids, groups = _exact_case()
    counts = run_identification(matrix, ids, groups, ["a", "b"],
                                SplitSettings(thresholds=[0.5, 0.95], candidates=2, repeats=12,
                                              seed=1))
    section = _section(counts, [0.5, 0.95], reps=50)
    at05, at95 = section["operating_points"]
    g = _by_group(at05)
    assert g["a"]["fpir"]["value"] == 1.0 and g["b"]["fpir"]["value"] == 0.0
    assert g["a"]["fnir"]["value"] == 0.0 and g["b"]["fnir"]["value"] == 1.0
    assert g["a"]["rank1_hit_rate"]["value"] == 1.0 and g["b"]["rank1_hit_rate"]["value"] == 0.0
    # every false candidate of an a-probe is an a-subject; b-probes return none
    comp = at05["false_candidates"]
    assert comp["fpir"] == [[1.0, 0.0], [0.0, 0.0]]
    assert comp["counts"][0][1] == comp["counts"][1][0] == comp["counts"][1][1] == 0
    # with 2 enrolled and 1 or 2 of them look-alikes, an a-probe has 1 or 2 false candidates
    assert 1.0 <= comp["per_search"][0][0] <= 2.0
    assert comp["counts"][0][0] == pytest.approx(comp["per_search"][0][0]
                                                 * comp["non_mated_searches"][0])
    # searches are counted per image: 12 repeats x (2 images of every non-enrolled identity)
    total = g["a"]["non_mated_searches"] + g["b"]["non_mated_searches"]
    assert total == 12 * 2 * 2
    assert g["a"]["mated_searches"] + g["b"]["mated_searches"] == 12 * 2
    # at 0.95 nothing but a's mates (score 1) matches
    g95 = _by_group(at95)
    assert g95["a"]["fpir"]["value"] == 0.0 and g95["a"]["fnir"]["value"] == 0.0
    assert g95["b"]["fnir"]["value"] == 1.0
    # zero errors: the exact one-sided bound, flagged as resting on few identities
    assert g95["a"]["fpir"]["interval"] == "clopper-pearson"
    assert g95["a"]["fpir"]["small_sample"] is True
    # fpir ratio 1/0: infinite, reported as null with the reason
    assert at05["summaries"]["fpir_ratio"]["value"] is None
    assert "0" in at05["summaries"]["fpir_ratio"]["note"]


def test_gallery_templates_all_holds_out_one_probe_per_identity():
    matrix, ids, groups = _exact_case()
    counts = run_identification(matrix, ids, groups, ["a", "b"],
                                SplitSettings(thresholds=[0.5], repeats=6,
                                              gallery_templates="all"))
    # two enrolled identities, each of two images: one enrolled, one held out
    assert counts.gallery_templates == 2
    assert counts.mated.sum() == 6 * 2


def _synthetic(n_per_group=150, dims=(24, 12), bad=(0.05, 0.25), seed=7):
    """Each group lives in its own block of coordinates (cross-group scores are 0); an
    identity's images are its centre, or with probability ``bad`` an unrelated direction.
    Every non-mated score is then a score between independent uniform unit vectors of the
    group's block: (1 + s) / 2 ~ Beta((d − 1)/2, (d − 1)/2)."""
    rng = np.random.default_rng(seed)
    width = sum(dims)
    rows, ids, groups = [], [], []
    offset = 0
    for g, (d, m) in enumerate(zip(dims, bad, strict=True)):
        for i in range(n_per_group):
            centre = rng.normal(size=d)
            for _ in range(2):
                v = centre if rng.random() >= m else rng.normal(size=d)
                row = np.zeros(width)
                row[offset : offset + d] = v / np.linalg.norm(v)
                rows.append(row)
                ids.append(f"{g}-{i}")
                groups.append(g)
        offset += d
    return np.array(rows, dtype=np.float32), np.array(ids), np.array(groups)


def test_synthetic_fpir_and_fnir_lie_inside_their_intervals():
    dims, bad, n, t = (24, 12), (0.05, 0.25), 150, 0.6
    matrix, ids, groups = _synthetic(n, dims, bad)
    counts = run_identification(matrix, ids, groups, ["a", "b"],
                                SplitSettings(thresholds=[t], candidates=10, repeats=20,
                                              gallery_sizes=[30]))
    section = _section(counts, [t], reps=400, confidence=0.99, sizes=[30, 1000])
    point = section["operating_points"][0]
    g = _by_group(point)
    enrolled = counts.gallery_size
    for name, d, m in (("a", dims[0], bad[0]), ("b", dims[1], bad[1])):
        p = beta.sf((1 + t) / 2, (d - 1) / 2, (d - 1) / 2)  # per-comparison FMR in the group
        # enrolled subjects of the probe's group, given the probe's identity is not enrolled
        k = np.arange(n)
        pmf = hypergeom.pmf(k, 2 * n - 1, n - 1, enrolled)
        fpir_true = float(np.sum(pmf * -np.expm1(k * np.log1p(-p))))
        fnir_true = (1 - (1 - m) ** 2) * (1 - p)  # a bad image makes the mate an impostor
        for key, truth in (("fpir", fpir_true), ("fnir", fnir_true)):
            est = g[name][key]
            assert est["low"] <= truth <= est["high"], (name, key, truth, est)
            assert est["interval"] == "wilson-effective-n"
        # the 1:1 FMR against enrolled subjects: within the group p, across groups 0
        share = enrolled / 2 / enrolled
        assert g[name]["fmr"]["low"] <= p * share <= g[name]["fmr"]["high"]
    # group b's searches return innocent candidates far more often: the ratio says so
    ratio = point["summaries"]["fpir_ratio"]
    assert ratio["value"] == pytest.approx(g["b"]["fpir"]["value"] / g["a"]["fpir"]["value"])
    assert ratio["low"] > 3
    # composition: no false candidate ever crosses the groups' blocks
    comp = point["false_candidates"]
    assert comp["counts"][0][1] == comp["counts"][1][0] == 0
    assert comp["fpir"][1][1] == pytest.approx(g["b"]["fpir"]["value"])
    # gallery sizes: 30 measured by subsampling, the audited size, 1000 predicted only
    sizes = {s["size"]: s for s in point["gallery_sizes"]}
    assert sizes[30]["measured"] and sizes[enrolled]["measured"]
    assert not sizes[1000]["measured"] and sizes[1000]["groups"][0]["fpir"] is None
    assert "independent" in sizes[1000]["prediction"]
    small = {x["group"]: x for x in sizes[30]["groups"]}
    assert small["b"]["fpir"]["value"] < g["b"]["fpir"]["value"]
    for entry in sizes[1000]["groups"]:
        fmr = g[entry["group"]]["fmr"]["value"]
        assert entry["predicted_fpir"] == pytest.approx(1 - (1 - fmr) ** 1000)


def test_prediction_formula():
    assert predicted_fpir(0.01, 100) == pytest.approx(1 - 0.99**100)
    assert predicted_fpir(0.0, 10**6) == 0.0
    assert math.isclose(predicted_fpir(1e-9, 1e4), 1e-5, rel_tol=1e-4)


def test_splits_are_seeded_and_repeatable():
    matrix, ids, groups = _synthetic(40)
    s = SplitSettings(thresholds=[0.6], repeats=3, seed=5)
    one = run_identification(matrix, ids, groups, ["a", "b"], s)
    two = run_identification(matrix, ids, groups, ["a", "b"], s)
    other = run_identification(matrix, ids, groups, ["a", "b"],
                               SplitSettings(thresholds=[0.6], repeats=3, seed=6))
    assert np.array_equal(one.false_positive, two.false_positive)
    assert np.array_equal(one.miss, two.miss)
    assert not (np.array_equal(one.non_mated, other.non_mated)
                and np.array_equal(one.false_positive, other.false_positive))


@pytest.mark.parametrize("bad", [
    {"candidates": 0}, {"repeats": 0}, {"enrol_share": 1.0}, {"gallery_templates": "some"},
    {"gallery_sizes": [0]}, {"thresholds": []},
])
def test_unusable_settings_are_refused(bad):
    matrix, ids, groups = _exact_case()
    settings = {"thresholds": [0.5], **bad}
    with pytest.raises(InputDataError):
        run_identification(matrix, ids, groups, ["a", "b"], SplitSettings(**settings))


def test_thresholded_batch_search_keeps_the_best_columns_at_or_above_it():
    rng = np.random.default_rng(4)
    scores = rng.normal(size=(30, 50)).astype(np.float32)
    scores[3, :] = -5  # a row with nothing above the threshold
    cols, top = top_k_rows(scores, 4, 1.0)
    for q in range(30):
        above = np.flatnonzero(scores[q] >= 1.0)
        expected = above[np.argsort(-scores[q, above], kind="stable")][:4]
        got = cols[q][cols[q] >= 0]
        assert got.tolist() == expected.tolist()
        assert np.all(np.isneginf(top[q][cols[q] < 0]))
    assert (cols[3] == -1).all()
