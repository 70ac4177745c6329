import numpy as np
import pytest

from faceaudit.audit.bootstrap import two_way_fmr
from faceaudit.audit.scoring import (
    N_BINS,
    IncompleteAuditError,
    TemplateScores,
    pass1_block,
    pass2_block,
    quantise,
    score_table,
)


def _templates(n=700, n_id=200, dim=16, seed=0):
    rng = np.random.default_rng(seed)
    identity = rng.integers(0, n_id, n)
    group = (identity % 3 == 0).astype(int)
    group[rng.random(n) < 0.05] = 2  # per-image labels: an identity can span groups
    # four entries of ±1/2: unit norm and dot products (multiples of 1/4) exact in any BLAS
    emb = np.zeros((n, dim), np.float32)
    for row in emb:
        row[rng.choice(dim, 4, replace=False)] = rng.choice([-0.5, 0.5], 4)
    return emb, identity, group


def _brute(emb, identity, group):
    s = emb @ emb.T
    i, j = np.triu_indices(len(emb), 1)
    return s[i, j], identity[i] == identity[j], group[i], group[j], i, j


@pytest.mark.parametrize("workers", [1, 3])
def test_blockwise_histograms_equal_brute_force(workers):
    emb, identity, group = _templates()
    scorer = TemplateScores(emb, identity, group, 3, workers=workers, block=64)
    got = scorer.score()
    s, same, ga, gb, _, _ = _brute(emb, identity, group)
    bins = quantise(s.astype(np.float32))
    for a in range(3):
        for b in range(3):
            pair = ((ga == a) & (gb == b)) | ((ga == b) & (gb == a))
            want = np.bincount(bins[pair & ~same], minlength=N_BINS)
            np.testing.assert_array_equal(got.impostor_hist[a, b], want)
    np.testing.assert_allclose(np.sort(got.genuine_scores), np.sort(s[same]), atol=1e-6)
    assert len(got.genuine_unit) == same.sum()


def test_impostor_counts_per_unit_equal_brute_force():
    emb, identity, group = _templates(seed=1)
    scorer = TemplateScores(emb, identity, group, 3, workers=2, block=100)
    thresholds = np.array([10_000, 12_500, 15_000])  # exactly 0, 0.25, 0.5
    matches, comparisons, _ = scorer.count_impostors(thresholds)
    s, same, ga, gb, i, j = _brute(emb, identity, group)
    bins = quantise(s.astype(np.float32))
    unit_key = identity * 3 + group
    units = np.unique(unit_key)
    for u in [0, 7, len(units) - 1]:
        key = units[u]
        mine_i, mine_j = unit_key[i] == key, unit_key[j] == key
        for partner in range(3):
            pairs = ~same & ((mine_i & (gb == partner)) | (mine_j & (ga == partner)))
            both = ~same & mine_i & mine_j & (ga == partner)
            assert comparisons[u, partner] == pairs.sum() + both.sum()
            for k, t in enumerate(thresholds):
                hits = pairs & (bins >= t)
                assert matches[u, partner, k] == hits.sum() + (both & (bins >= t)).sum()


def test_score_table_histograms_and_counts():
    score = np.array([0.9, 0.2, 0.1, 0.5, -0.3])
    genuine = np.array([True, False, False, False, True])
    ga = np.array([0, 0, 1, 0, 1])
    gb = np.array([0, 1, 1, 0, 1])
    sa = np.array([0, 0, 2, 1, 2])
    sb = np.array([0, 2, 3, 0, 2])
    got = score_table(score, genuine, ga, gb, ["a", "b"], sa, sb)
    assert got.impostor_hist[0, 1].sum() == got.impostor_hist[1, 0].sum() == 1
    assert got.impostor_hist[0, 0].sum() == 1 and got.impostor_hist[1, 1].sum() == 1
    matches, comparisons, _ = got.counter(np.searchsorted(got.edges, [0.2, 0.5]))
    assert comparisons.sum() == 2 * 3
    assert matches[:, :, 1].sum() == 2  # the 0.5 impostor counted for both sides
    assert matches[:, :, 0].sum() == 4


def test_quantise_edges_and_clipping():
    assert list(quantise(np.array([-1.0, -0.99995, 0.0, 1.0, 1.5]))) == [
        0,
        0,
        10_000,
        20_000,
        20_000,
    ]


def _brute_two_way(w, unit_i, unit_j, g_i, g_j, bins, thresholds, G):
    """Weighted FMR per (group, group, threshold), each impostor comparison weighted w_i w_j."""
    weight = w[:, unit_i] * w[:, unit_j]
    out = np.full((w.shape[0], G, G, len(thresholds)), np.nan)
    for a in range(G):
        for b in range(G):
            cell = ((g_i == a) & (g_j == b)) | ((g_i == b) & (g_j == a))
            den = weight[:, cell].sum(axis=1)
            for k, t in enumerate(thresholds):
                out[:, a, b, k] = (weight[:, cell] * (bins[cell] >= t)).sum(axis=1) / den
    return out


def test_two_way_weights_of_templates_equal_brute_force():
    emb, identity, group = _templates(seed=2)
    scorer = TemplateScores(emb, identity, group, 3, workers=2, block=100)
    thresholds = np.array([10_000, 12_500, 15_000])
    _, _, pairs = scorer.count_impostors(thresholds, pair_thresholds=thresholds[1:])
    s, same, ga, gb, i, j = _brute(emb, identity, group)
    bins = quantise(s.astype(np.float32))
    unit = np.unique(scorer.identity * 3 + scorer.group, return_inverse=True)[1]
    order = np.lexsort((identity, group))  # the scorer's template order
    unit_of = np.empty(len(emb), np.intp)
    unit_of[order] = unit
    w = np.random.default_rng(0).poisson(1.0, (4, len(scorer.unit_group))).astype(float)
    got = two_way_fmr(w, scorer.unit_group, 3, pairs)
    imp = ~same
    want = _brute_two_way(
        w, unit_of[i[imp]], unit_of[j[imp]], ga[imp], gb[imp], bins[imp], thresholds[1:], 3
    )
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_two_way_weights_of_a_scores_table_equal_brute_force():
    rng = np.random.default_rng(3)
    n = 3000
    sa, sb = rng.integers(0, 30, n), rng.integers(0, 30, n)
    sb[sa == sb] = (sb[sa == sb] + 1) % 30
    g_of = np.arange(30) % 2
    score = np.round(rng.normal(0, 0.2, n), 2)
    genuine = np.zeros(n, bool)
    got_set = score_table(score, genuine, g_of[sa], g_of[sb], ["a", "b"], sa, sb, targets=(0.05,))
    ks = np.searchsorted(got_set.edges, [0.1, 0.3])
    _, _, pairs = got_set.counter(ks, pair_thresholds=ks)
    U = len(got_set.unit_group)
    w = np.random.default_rng(1).poisson(1.0, (4, U)).astype(float)
    got = two_way_fmr(w, got_set.unit_group, 2, pairs)
    # units are subjects here (each subject has one group), numbered in subject order
    want = _brute_two_way(w, sa, sb, g_of[sa], g_of[sb], score, [0.1, 0.3], 2)
    np.testing.assert_allclose(got, want, rtol=1e-12)


def _scorer_and_blocks(seed=3):
    emb, identity, group = _templates(n=500, n_id=150, seed=seed)
    scorer = TemplateScores(emb, identity, group, 3, workers=1, block=64)
    return scorer, list(scorer._map(pass1_block))


@pytest.mark.parametrize("fault", ["drop", "repeat", "lose-one-count", "lose-a-genuine"])
def test_pass1_refuses_results_that_miss_comparisons(fault):
    """A lost, repeated or short block never becomes a report: the reduction checks every block
    once and the mated + non-mated totals against n(n-1)/2."""
    scorer, results = _scorer_and_blocks()
    assert scorer.reduce_pass1(results).impostor_hist.sum() > 0  # the real results pass
    victim = next(r for r in results if len(r.genuine) and r.hist.sum())
    if fault == "drop":
        results.remove(victim)
    elif fault == "repeat":
        results.append(victim)
    elif fault == "lose-one-count":
        victim.hist[np.flatnonzero(victim.hist)[0]] -= 1
    else:
        victim.genuine = victim.genuine[1:]
    with pytest.raises(IncompleteAuditError, match="block|n\\(n-1\\)/2"):
        TemplateScores.reduce_pass1(scorer, results)


def test_pass1_checks_the_total_not_only_each_block():
    """A block that moves a comparison to another block's count still breaks the total."""
    scorer, results = _scorer_and_blocks(seed=4)
    n_blocks = len(results)
    scorer.blocks = scorer.blocks[:-1]  # a layout that forgot the last block …
    results = results[:-1]  # … and its result: every block present, the total is short
    assert len(results) == n_blocks - 1
    with pytest.raises(IncompleteAuditError, match="n\\(n-1\\)/2"):
        scorer.reduce_pass1(results)


@pytest.mark.parametrize("fault", ["drop", "lose-a-count"])
def test_pass2_refuses_lost_blocks_and_counts_that_disagree_with_pass1(fault):
    """Pass 2 (the bootstrap's counts) checks every block came back, and that its counts at the
    lowest threshold equal pass 1's histogram for every pair of groups."""
    scorer, results = _scorer_and_blocks(seed=5)
    scorer.reduce_pass1(results)
    thr = np.array([10_000, 12_500])
    blocks = list(scorer._map(pass2_block, thr, None))
    scorer.reduce_pass2(blocks, thr, None)  # the real results pass
    victim = next(b for b in blocks if b.rows_a.sum())
    if fault == "drop":
        blocks.remove(victim)
    else:
        row, k = np.argwhere(victim.rows_a)[0]
        victim.rows_a[row, k] -= 1
    with pytest.raises(IncompleteAuditError, match="blocks|scoring found"):
        scorer.reduce_pass2(blocks, thr, None)


def test_two_way_pair_cap_does_not_depend_on_threads():
    """Whether the two-way bootstrap's pairs fit under the cap is one decision over all blocks,
    the same on 1 thread, 3 threads or a cluster."""
    emb, identity, group = _templates(seed=6)
    thr = np.array([10_000, 12_500, 15_000])
    held = []
    for workers in (1, 3):
        scorer = TemplateScores(emb, identity, group, 3, workers=workers, block=100)
        _, _, pairs = scorer.count_impostors(thr, pair_thresholds=thr[1:])
        assert pairs is not None
        held.append(len(pairs.unit_i))
        total = sum(len(b.keys) for b in scorer._map(pass2_block, thr, thr[1:]))
        _, _, capped = scorer.count_impostors(thr, pair_thresholds=thr[1:], max_pairs=total - 1)
        _, _, fits = scorer.count_impostors(thr, pair_thresholds=thr[1:], max_pairs=total)
        assert capped is None and fits is not None
    assert held[0] == held[1]
