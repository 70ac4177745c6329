"""The fused numba kernels give the numpy reference scorer's counts bit for bit (issue 27).

Random templates, and blocks built to sit on the bin edges: every printed edge, the float32
neighbours either side of each, duplicates, the ends of the range (-1, 1 and beyond) and the
smallest and largest float32 values. Sizes are small; the kernels are cached on disk.
"""

import numpy as np
import pytest

from faceaudit.audit import fused
from faceaudit.audit.scoring import (
    _EDGES32,
    EDGES,
    N_BINS,
    Blocks,
    TemplateScores,
    pass1_fused,
    pass1_reference,
    pass2_fused,
    pass2_reference,
    quantise,
)

pytestmark = [
    pytest.mark.skipif(not fused.AVAILABLE, reason="numba is not installed"),
    pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning"),  # ±float32 max
]


def _random_templates(n=600, n_id=150, dim=32, seed=0):
    rng = np.random.default_rng(seed)
    identity = rng.integers(0, n_id, n)
    centres = rng.standard_normal((n_id, dim)).astype(np.float32)
    emb = centres[identity] + 0.7 * rng.standard_normal((n, dim)).astype(np.float32)
    group = (identity % 3 == 0).astype(int)
    group[rng.random(n) < 0.05] = 2
    return emb, identity, group


def _edge_scores(rng: np.random.Generator, size: int) -> np.ndarray:
    """float32 scores on and right beside the printed edges, duplicated, plus the extremes."""
    e = _EDGES32
    below = np.nextafter(e, np.float32(-np.inf))
    above = np.nextafter(e, np.float32(np.inf))
    at64 = EDGES.astype(np.float32)  # the nearest float32, possibly just below the edge
    f = np.finfo(np.float32)
    extremes = np.array([-1, 1, -1.5, 1.5, 2, -2, f.max, -f.max, f.tiny, -f.tiny, 0, -0.0,
                         np.nextafter(np.float32(1), np.float32(0)),
                         np.nextafter(np.float32(-1), np.float32(0))], np.float32)
    pool = np.concatenate([e, below, above, at64, extremes])
    out = rng.choice(pool, size).astype(np.float32)
    out[1 : 1 + len(extremes)] = extremes  # row 0, above the diagonal: always counted
    return out


class _FixedBlocks(Blocks):
    """Blocks whose products are given score matrices (edge-tie data no BLAS would yield)."""

    def __init__(self, scores: dict, **kw):
        super().__init__(**kw)
        self.scores = scores

    def product(self, a, b):
        return self.scores[a, b]


def _fixed(seed: int, sizes=(70, 45)) -> _FixedBlocks:
    rng = np.random.default_rng(seed)
    n = sum(sizes)
    starts = np.r_[0, np.cumsum(sizes)]
    chunks = [(int(starts[c]), int(starts[c + 1]), c) for c in range(len(sizes))]
    identity = np.sort(rng.integers(0, n // 3, n))
    scores = {}
    for a in range(len(sizes)):
        for b in range(a, len(sizes)):
            S = _edge_scores(rng, sizes[a] * sizes[b]).reshape(sizes[a], sizes[b])
            if a == b:
                S = np.triu(S) + np.triu(S, 1).T  # symmetric, as a product is
            scores[a, b] = S
    i, j = np.triu_indices(n, 1)
    same = identity[i] == identity[j]
    p, q = i[same], j[same]
    chunk_of = np.searchsorted(starts, np.arange(n), side="right") - 1
    key = chunk_of[p] * len(sizes) + chunk_of[q]
    order = np.argsort(key, kind="stable")
    unit_of = np.unique(identity, return_inverse=True)[1]
    return _FixedBlocks(scores, embeddings=np.zeros((n, 1), np.float32), identity=identity,
                        unit_of=unit_of, chunks=chunks, gen_p=p[order], gen_q=q[order],
                        gen_key=key[order], n_units=int(unit_of.max()) + 1)


def _same_pass1(blocks, a, b):
    want, got = pass1_reference(blocks, a, b), pass1_fused(blocks, a, b)
    assert got.hist.dtype == want.hist.dtype and got.hist.shape == (N_BINS,)
    np.testing.assert_array_equal(got.hist, want.hist)
    assert got.genuine.tobytes() == want.genuine.tobytes()


def _same_pass2(blocks, a, b, thr, pthr):
    want = pass2_reference(blocks, a, b, thr, pthr)
    got = pass2_fused(blocks, a, b, thr, pthr)
    np.testing.assert_array_equal(got.rows_a, want.rows_a)
    np.testing.assert_array_equal(got.rows_b, want.rows_b)
    if pthr is None:
        assert got.keys is None and want.keys is None
    else:
        np.testing.assert_array_equal(got.keys, want.keys)
        np.testing.assert_array_equal(got.counts, want.counts)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kernel_bins_edge_ties_exactly_like_the_reference(seed):
    blocks = _fixed(seed)
    for a, b in [(0, 0), (0, 1), (1, 1)]:
        _same_pass1(blocks, a, b)
        for thr in ([0, 10_000, 20_000], [9_999, 10_000, 10_001, 15_000], [N_BINS - 1]):
            thr = np.array(thr)
            _same_pass2(blocks, a, b, thr, None)
            _same_pass2(blocks, a, b, thr, thr[-2:] if len(thr) > 1 else thr)


def test_edge_data_covers_every_side_of_an_edge():
    """The edge-tie data is what it claims: scores on edges, just below and just above."""
    s = np.concatenate([m.ravel() for m in _fixed(0).scores.values()])
    bins = quantise(s)
    on = s == _EDGES32[bins]
    assert on.sum() > 100 and (~on).sum() > 100
    assert len(np.unique(s)) < len(s)  # duplicates
    assert bins.min() == 0 and bins.max() == N_BINS - 1


@pytest.mark.parametrize("workers", [1, 2])
def test_whole_scorer_equal_with_and_without_the_kernel(workers):
    emb, identity, group = _random_templates()
    scorer = TemplateScores(emb, identity, group, 3, workers=workers, block=128)
    with fused.use(False):
        want = scorer.score()
    with fused.use(True):
        got = scorer.score()
    np.testing.assert_array_equal(got.impostor_hist, want.impostor_hist)
    assert got.genuine_scores.tobytes() == want.genuine_scores.tobytes()
    G = 3
    imp = want.impostor_hist[np.triu(np.ones((G, G), dtype=bool))].sum(axis=0)
    k = int(np.argmax(np.cumsum(imp[::-1])[::-1] <= 1e-2 * imp.sum()))
    thr = np.array([k - 200, k, k + 200])
    with fused.use(False):
        m0, c0, p0 = scorer.count_impostors(thr, pair_thresholds=thr[1:])
    with fused.use(True):
        m1, c1, p1 = scorer.count_impostors(thr, pair_thresholds=thr[1:])
    np.testing.assert_array_equal(m1, m0)
    np.testing.assert_array_equal(c1, c0)
    assert p0 is not None and p1 is not None and p0.matches.sum() > 0
    for name in ("unit_i", "unit_j", "matches"):
        np.testing.assert_array_equal(getattr(p1, name), getattr(p0, name))


def test_random_blocks_with_many_counts():
    """Random float32 scores over the whole range: every bin of a big block compared."""
    rng = np.random.default_rng(5)
    blocks = _fixed(3, sizes=(300, 200))
    blocks.scores[0, 1] = rng.uniform(-1.05, 1.05, (300, 200)).astype(np.float32)
    _same_pass1(blocks, 0, 1)
    _same_pass2(blocks, 0, 1, np.array([5_000, 10_000, 19_000]), np.array([10_000]))


def test_kernel_constants_match_the_bins():
    assert fused.TOP64 == N_BINS - 1 and fused.BINS_PER_UNIT64 * 2 + 1 == N_BINS


def test_switch_off_uses_the_reference():
    with fused.use(False):
        assert not fused.enabled()
    with fused.use(True):
        assert fused.enabled()
