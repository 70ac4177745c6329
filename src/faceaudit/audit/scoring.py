"""Exhaustive blockwise scoring of templates into per-group histograms and per-identity counts.

Scores are cosine similarities of unit vectors, quantised to bins of width :data:`BIN_WIDTH`
(``bin = floor((score + 1) / BIN_WIDTH)``, 20,001 bins over [-1, 1]); a threshold is a bin's
lower edge, so thresholds have a resolution of 1e-4. A comparison *matches* at threshold bin
``k`` when its bin is ``>= k``.

Pass 1 (:meth:`TemplateScores.score`) computes every pair once (upper triangle, blocks of
``BLOCK`` × ``BLOCK`` templates, memory bounded independently of N), keeps genuine scores
exactly and adds impostor bins to one histogram per (group, group). Pass 2
(:meth:`TemplateScores.count_impostors`) recomputes the blocks to count, per identity-in-group
("unit") and partner group, the impostor comparisons at or above a few thresholds: the input of
the identity bootstrap.

Both passes are one task per block ``(a, b)`` (:func:`pass1_block`, :func:`pass2_block`), run
on threads here or on a Dask cluster (:mod:`faceaudit.audit.distributed`), and reduced by
summation; the reduction checks that every block came back exactly once and that the counts
add up to ``n(n-1)/2`` before anything is reported (:class:`IncompleteAuditError`).
:func:`faceaudit.audit.all_pairs.score_templates` runs both passes, here or on a cluster.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Any, overload

import numpy as np
from threadpoolctl import ThreadpoolController

from faceaudit.audit import fused, metrics
from faceaudit.audit.bootstrap import PairCounts
from faceaudit.base.errors import FaceAuditError
from faceaudit.engine.calibration import CURVE_FMRS

BIN_WIDTH = 1e-4
BINS_PER_UNIT = 10_000  # 1 / BIN_WIDTH, exact in float32
N_BINS = 2 * BINS_PER_UNIT + 1
BLOCK = 2048
MAX_PAIRS = 20_000_000  # (unit pair, threshold) entries the two-way bootstrap may hold

Progress = Callable[[int], None]


def _float32_edges(edges: np.ndarray) -> np.ndarray:
    """The smallest float32 at or above each float64 edge.

    For a float32 score ``s``, ``s >= e32[k]`` holds exactly when ``float(s) >= edges[k]``, so
    float32 scores can be binned in float32 and still agree with a float64 ``>=`` check.
    """
    e32 = edges.astype(np.float32)
    low = e32.astype(np.float64) < edges
    e32[low] = np.nextafter(e32[low], np.float32(np.inf))
    return e32


EDGES = np.round(-1.0 + np.arange(N_BINS) / BINS_PER_UNIT, 4)
"""The lower edges of the template bins as reported: -1.0, -0.9999, …, 1.0 (float64)."""
_EDGES32 = _float32_edges(EDGES)
_EDGES_PADDED = {np.dtype(np.float64): np.r_[EDGES, np.inf],
                 np.dtype(np.float32): np.r_[_EDGES32, np.float32(np.inf)].astype(np.float32)}


def quantise(scores: np.ndarray) -> np.ndarray:
    """Template bin of each score: the ``k`` with ``EDGES[k] <= score < EDGES[k + 1]``.

    Bins are assigned by comparing each score with the edges that the report prints (the same
    ``score >= threshold`` test a reader would run), never by ``floor`` arithmetic alone: the
    arithmetic only gives a first guess that one comparison either way corrects. Bin 0 also
    holds scores below -1 and the last bin scores of 1 and above. float32 scores are compared
    with the smallest float32 at or above each edge, which is the same test in float64.
    """
    scores = np.asarray(scores)
    if scores.dtype != np.float32:
        scores = scores.astype(np.float64)
    edges = _EDGES_PADDED[scores.dtype]
    work = scores + scores.dtype.type(1)
    work *= scores.dtype.type(BINS_PER_UNIT)
    np.clip(work, 0, N_BINS - 1, out=work)
    floor = np.floor(work)
    work -= floor  # fractional part: the guess can only be wrong near a whole number
    near = np.flatnonzero(np.abs(work - scores.dtype.type(0.5)) > 0.49)
    bins = floor.astype(np.intp)
    flat = bins.reshape(-1)
    s = scores.reshape(-1)[near]
    b = flat[near]
    b -= (s < edges[b]) & (b > 0)
    b += s >= edges[b + 1]
    flat[near] = b
    return bins


def bin_edge(k: int | np.ndarray) -> float | np.ndarray:
    """Score value of the lower edge of template bin ``k`` (the threshold bin ``k`` stands for)."""
    out = EDGES[np.asarray(k)]
    return float(out) if np.ndim(out) == 0 else out


@dataclass
class ScoreSet:
    """Everything the metrics need, whatever the input (templates or a scores table).

    Scores are binned on ``edges`` (ascending): a score is in bin ``k`` when
    ``edges[k] <= score < edges[k + 1]`` (bin 0 also holds anything lower), so "matches at
    threshold bin ``k``" is exactly ``score >= edges[k]``. ``impostor_hist[a, b]`` counts
    impostor comparisons between groups ``a`` and ``b`` per bin (symmetric). Genuine comparisons
    are kept one per row with their exact score, bin, the two groups and the unit (identity
    within ``group_a``; -1 when unknown). ``unit_group`` gives each unit's group. ``counter``
    maps sorted threshold bins (K,) to ``(matches (U, G, K), comparisons (U, G))``: impostor
    comparisons of each unit with each partner group at or above each threshold; ``None`` when
    identities are unknown.

    ``fixed_thresholds`` (scores tables) holds the exact thresholds per ``(group or None,
    target)``, each one of the ``edges``; without it thresholds are chosen among the edges.
    Scores are held "higher is more similar"; for distances (``higher_is_better`` false) they
    were negated on input and :meth:`value` turns an edge back into the user's scale.
    """

    groups: list[str]
    impostor_hist: np.ndarray
    genuine_scores: np.ndarray
    genuine_bins: np.ndarray
    genuine_group_a: np.ndarray
    genuine_group_b: np.ndarray
    genuine_unit: np.ndarray
    unit_group: np.ndarray
    # pass 2: (thresholds, pair thresholds or None) -> (matches, comparisons, pair counts)
    counter: Callable[[np.ndarray, np.ndarray | None],
                      tuple[np.ndarray, np.ndarray, PairCounts | None]] | None
    edges: np.ndarray = field(default_factory=lambda: EDGES)
    fixed_thresholds: dict | None = None
    higher_is_better: bool = True
    beyond: float = 1.0001  # the threshold that stands for "above the last edge"
    exact_grid: bool = False  # every distinct score is an edge: curves are exact too
    impostor_identities: np.ndarray | None = None  # per group: identities in its impostor pairs

    @property
    def n_bins(self) -> int:
        """Number of bins (= number of edges)."""
        return len(self.edges)

    @overload
    def value(self, k: int) -> float: ...

    @overload
    def value(self, k: np.ndarray) -> np.ndarray: ...

    def value(self, k: int | np.ndarray) -> float | np.ndarray:
        """The threshold that bin ``k`` stands for, on the input's own scale and direction."""
        k = np.asarray(k)
        v = np.where(k < self.n_bins, self.edges[np.minimum(k, self.n_bins - 1)], self.beyond)
        v = v if self.higher_is_better else -v
        return float(v) if v.ndim == 0 else v

    def threshold_bin(self, group: int | None, target: float, hist: np.ndarray) -> int:
        """Bin of the threshold for ``target`` on ``group``'s impostors (``None``: all)."""
        if self.fixed_thresholds is not None and (group, target) in self.fixed_thresholds:
            return int(np.searchsorted(self.edges, self.fixed_thresholds[group, target]))
        return metrics.threshold_for_fmr(hist, target)


def symmetrise(hist: np.ndarray) -> np.ndarray:
    """Turn per-(a, b) counts filled for a ≤ b (or both orders) into a symmetric matrix."""
    out = hist + np.swapaxes(hist, 0, 1)
    idx = np.arange(hist.shape[0])
    out[idx, idx] = hist[idx, idx]
    return out


@cache
def blas() -> ThreadpoolController:
    """The process's BLAS/OpenMP libraries, found once (the scan costs ~0.1 s); block tasks
    run inside ``blas().limit(limits=1)``, one BLAS thread per worker thread."""
    return ThreadpoolController()


def _default_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


class IncompleteAuditError(FaceAuditError):
    """The blockwise scorer's results do not add up to every comparison exactly once.

    Raised before anything is reported, e.g. when a block of comparisons was lost or reported
    twice (a cluster worker died and its result never came back), so that an audit is never
    computed from a silently partial histogram.
    """

    code = "audit-incomplete"
    http_status = 500


@lru_cache(maxsize=8)
def _upper(n: int) -> np.ndarray:
    """Mask of the strict upper triangle of an ``n`` × ``n`` block (pairs within one chunk)."""
    return np.triu(np.ones((n, n), dtype=bool), 1)


@dataclass
class Blocks:
    """What every block task reads: the sorted templates and the block layout.

    Built once by :class:`TemplateScores`; a cluster scatters it to every worker once and each
    task names only its two chunk numbers. ``chunks`` are ``(start, stop, group)`` row ranges;
    ``gen_p``/``gen_q`` the genuine (same-identity) pairs, sorted by ``gen_key`` (block number).
    """

    embeddings: np.ndarray
    identity: np.ndarray
    unit_of: np.ndarray
    chunks: list[tuple[int, int, int]]
    gen_p: np.ndarray
    gen_q: np.ndarray
    gen_key: np.ndarray
    n_units: int

    def __setstate__(self, state: dict) -> None:
        # Arrays unpickled from a cluster's out-of-band buffers can sit at any byte offset;
        # numpy multiplies misaligned float32 without BLAS, in another summation order. Align
        # them once per worker so every product is the BLAS product, as in-process.
        self.__dict__.update({
            k: np.require(v, requirements=["C", "A"]) if isinstance(v, np.ndarray) else v
            for k, v in state.items()
        })

    def product(self, a: int, b: int) -> np.ndarray:
        """Cosine scores of chunk ``a`` (rows) against chunk ``b`` (columns)."""
        ra, rb = self.chunks[a], self.chunks[b]
        return self.embeddings[ra[0] : ra[1]] @ self.embeddings[rb[0] : rb[1]].T

    def pairs(self, a: int, b: int) -> int:
        """Comparisons block ``(a, b)`` holds (each pair once)."""
        na = self.chunks[a][1] - self.chunks[a][0]
        nb = self.chunks[b][1] - self.chunks[b][0]
        return na * (na - 1) // 2 if a == b else na * nb

    def genuine_span(self, a: int, b: int) -> tuple[int, int]:
        """The range of ``gen_p``/``gen_q`` that lies in block ``(a, b)``."""
        k = a * len(self.chunks) + b
        lo, hi = np.searchsorted(self.gen_key, [k, k + 1])
        return int(lo), int(hi)


@dataclass
class Pass1Block:
    """One block's pass-1 result: impostor bins and its genuine pairs' exact scores."""

    a: int
    b: int
    hist: np.ndarray  # (N_BINS,) impostor comparisons per bin
    genuine: np.ndarray  # float32 scores of the block's genuine pairs, in gen_key order


@dataclass
class Pass2Block:
    """One block's pass-2 result: per-template counts at or above each threshold.

    ``rows_a[i, k]`` counts chunk ``a``'s template ``i`` against chunk ``b``'s group with ``k``
    thresholds reached (``rows_b`` the other way round); ``keys``/``counts`` are the sparse
    per-unit-pair counts of the two-way bootstrap (``None`` when not asked for).
    """

    a: int
    b: int
    rows_a: np.ndarray
    rows_b: np.ndarray
    keys: np.ndarray | None = None
    counts: np.ndarray | None = None


def pass1_block(blocks: Blocks, a: int, b: int) -> Pass1Block:
    """Score block ``(a, b)``: the histogram of its impostor bins and its genuine scores.

    The fused kernel (:mod:`faceaudit.audit.fused`) when numba is there and enabled, else the
    numpy reference (:func:`pass1_reference`); both give the same result bit for bit.
    """
    if fused.enabled():
        return pass1_fused(blocks, a, b)
    return pass1_reference(blocks, a, b)


def pass1_fused(blocks: Blocks, a: int, b: int) -> Pass1Block:
    """:func:`pass1_block` by the fused kernel: one pass over the block's BLAS product."""
    S = blocks.product(a, b)
    lo, hi = blocks.genuine_span(a, b)
    ra, rb = blocks.chunks[a][0], blocks.chunks[b][0]
    h, gs = fused.pass1_counts(S, a == b, blocks.gen_p[lo:hi] - ra, blocks.gen_q[lo:hi] - rb,
                               _EDGES_PADDED[np.dtype(np.float32)])
    return Pass1Block(a, b, h, gs)


def pass1_reference(blocks: Blocks, a: int, b: int) -> Pass1Block:
    """:func:`pass1_block` in numpy: :func:`quantise`, a mask and ``bincount`` (the reference
    the fused kernel is tested against)."""
    S = blocks.product(a, b)
    lo, hi = blocks.genuine_span(a, b)
    ra, rb = blocks.chunks[a][0], blocks.chunks[b][0]
    gs = S[blocks.gen_p[lo:hi] - ra, blocks.gen_q[lo:hi] - rb]
    bins = quantise(S)
    vals = bins[_upper(len(S))] if a == b else bins.ravel()
    h = np.bincount(vals, minlength=N_BINS)
    if len(h) > N_BINS:
        h[N_BINS - 1] += h[N_BINS:].sum()
        h = h[:N_BINS]
    h -= np.bincount(quantise(gs), minlength=N_BINS)
    return Pass1Block(a, b, h, np.ascontiguousarray(gs, dtype=np.float32))


def pass2_block(
    blocks: Blocks, a: int, b: int, thresholds: np.ndarray, pair_thresholds: np.ndarray | None
) -> Pass2Block:
    """Count block ``(a, b)``'s impostor comparisons at or above each threshold bin.

    The fused kernel when numba is there and enabled (:func:`pass2_fused`), else the numpy
    reference (:func:`pass2_reference`); both give the same result bit for bit.
    """
    if fused.enabled() and blocks.identity.dtype.kind in "iub":
        return pass2_fused(blocks, a, b, thresholds, pair_thresholds)
    return pass2_reference(blocks, a, b, thresholds, pair_thresholds)


def _pair_counts(
    blocks: Blocks, ra: int, rb: int, rr: np.ndarray, cc: np.ndarray, bins: np.ndarray,
    pthr: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Sparse per-unit-pair counts (keys, counts) of the comparisons ``(rr, cc)`` at ``bins``
    (each at or above ``pthr[0]``) of the block whose chunks start at ``ra``, ``rb``."""
    U = blocks.n_units
    ui, uj = blocks.unit_of[ra + rr], blocks.unit_of[rb + cc]
    pk = np.searchsorted(pthr, bins, side="right")
    key = (np.minimum(ui, uj) * U + np.maximum(ui, uj)) * (len(pthr) + 1) + pk
    keys, counts = np.unique(key, return_counts=True)
    return keys, counts


def pass2_fused(
    blocks: Blocks, a: int, b: int, thresholds: np.ndarray, pair_thresholds: np.ndarray | None
) -> Pass2Block:
    """:func:`pass2_block` by the fused kernel: one pass over the block's BLAS product (a
    second over the rows holding two-way pairs, when ``pair_thresholds`` are asked for)."""
    thr = thresholds
    cut = np.float32(bin_edge(int(thr[0])) - 2 * BIN_WIDTH)
    S = blocks.product(a, b)
    (ra, sa, _), (rb, sb, _) = blocks.chunks[a], blocks.chunks[b]
    low = None if pair_thresholds is None else int(pair_thresholds[0])
    rows_a, rows_b, found = fused.pass2_counts(
        S, a == b, blocks.identity[ra:sa], blocks.identity[rb:sb], thr, cut, low,
        _EDGES_PADDED[np.dtype(np.float32)])
    out = Pass2Block(a, b, rows_a, rows_b)
    if pair_thresholds is not None and found is not None:
        out.keys, out.counts = _pair_counts(blocks, ra, rb, *found, pair_thresholds)
    return out


def pass2_reference(
    blocks: Blocks, a: int, b: int, thresholds: np.ndarray, pair_thresholds: np.ndarray | None
) -> Pass2Block:
    """:func:`pass2_block` in numpy (the reference the fused kernel is tested against)."""
    thr = thresholds
    K = len(thr)
    cut = np.float32(bin_edge(int(thr[0])) - 2 * BIN_WIDTH)
    S = blocks.product(a, b)
    (ra, sa, _), (rb, sb, _) = blocks.chunks[a], blocks.chunks[b]
    rr, cc = np.nonzero(S >= cut)
    bins = quantise(S[rr, cc])
    keep = (bins >= thr[0]) & (blocks.identity[ra + rr] != blocks.identity[rb + cc])
    if a == b:
        keep &= cc > rr
    rr, cc, bins = rr[keep], cc[keep], bins[keep]
    kidx = np.searchsorted(thr, bins, side="right")

    def per_row(rows: np.ndarray, n_rows: int) -> np.ndarray:
        c = np.bincount(rows * (K + 1) + kidx, minlength=n_rows * (K + 1))
        return c.reshape(n_rows, K + 1)

    out = Pass2Block(a, b, per_row(rr, sa - ra), per_row(cc, sb - rb))
    if pair_thresholds is not None:
        sel = bins >= pair_thresholds[0]
        out.keys, out.counts = _pair_counts(blocks, ra, rb, rr[sel], cc[sel], bins[sel],
                                            pair_thresholds)
    return out


class TemplateScores:
    """Blockwise exhaustive scorer over unit-norm templates with identity and group codes.

    The blocks run on ``workers`` threads here; :class:`faceaudit.audit.distributed.DaskScores`
    runs the same block functions on a Dask cluster (override :meth:`_map`). Either way the
    results are reduced here and checked to cover every comparison exactly once.
    """

    def __init__(
        self,
        embeddings: np.ndarray,
        identity: np.ndarray,
        group: np.ndarray,
        n_groups: int,
        *,
        workers: int | None = None,
        block: int = BLOCK,
    ) -> None:
        order = np.lexsort((identity, group))
        emb = np.ascontiguousarray(embeddings[order], dtype=np.float32)
        emb /= np.linalg.norm(emb, axis=1, keepdims=True)
        self.embeddings = emb
        self.identity = np.asarray(identity)[order]
        self.group = np.asarray(group)[order]
        self.n_groups = n_groups
        self.workers = workers or _default_workers()
        self.block = block
        self.chunks = self._chunks()
        self.chunk_of = np.empty(len(emb), dtype=np.intp)
        for c, (start, stop, _) in enumerate(self.chunks):
            self.chunk_of[start:stop] = c
        self.blocks = [(a, b) for a in range(len(self.chunks)) for b in range(a, len(self.chunks))]
        unit_key = self.identity.astype(np.int64) * n_groups + self.group
        units, self.unit_of = np.unique(unit_key, return_inverse=True)
        self.unit_group = (units % n_groups).astype(np.intp)
        p, q = self._genuine_pairs()
        key = self.chunk_of[p] * len(self.chunks) + self.chunk_of[q]
        by_block = np.argsort(key, kind="stable")
        self.data = Blocks(
            emb, self.identity, self.unit_of, self.chunks,
            p[by_block], q[by_block], key[by_block], len(units),
        )
        self.pass1_hist: np.ndarray | None = None  # (G, G, N_BINS), each pair once (a <= b)

    def _chunks(self) -> list[tuple[int, int, int]]:
        chunks = []
        bounds = np.searchsorted(self.group, np.arange(self.n_groups + 1))
        for g in range(self.n_groups):
            for start in range(bounds[g], bounds[g + 1], self.block):
                chunks.append((int(start), int(min(start + self.block, bounds[g + 1])), g))
        return chunks

    @property
    def n_pairs(self) -> int:
        """Number of comparisons (N choose 2)."""
        n = len(self.embeddings)
        return n * (n - 1) // 2

    def _genuine_pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """All same-identity index pairs (p < q) in sorted order."""
        by_id = np.argsort(self.identity, kind="stable")
        ids = self.identity[by_id]
        starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
        sizes = np.diff(np.r_[starts, len(ids)])
        ps, qs = [], []
        for start, size in zip(starts[sizes > 1], sizes[sizes > 1], strict=True):
            i, j = np.triu_indices(size, 1)
            pos = by_id[start : start + size]
            ps.append(pos[i])
            qs.append(pos[j])
        if not ps:
            return np.empty(0, np.intp), np.empty(0, np.intp)
        p, q = np.concatenate(ps), np.concatenate(qs)
        swap = p > q
        p[swap], q[swap] = q[swap], p[swap]
        return p, q

    def _map(self, task: Callable, *args) -> Iterator:
        """Run ``task(self.data, a, b, *args)`` for every block; yield results as they finish.

        In-process: ``workers`` threads (BLAS single-threaded when there are several), at most
        two blocks per thread in flight so that memory stays bounded.
        """
        if self.workers == 1:
            for a, b in self.blocks:
                yield task(self.data, a, b, *args)
            return
        per_thread = max(1, fused.threads() // self.workers)
        with blas().limit(limits=1), ThreadPoolExecutor(
            self.workers, initializer=fused.limit_threads, initargs=(per_thread,)
        ) as pool:
            pending: deque = deque()
            for a, b in self.blocks:
                pending.append(pool.submit(task, self.data, a, b, *args))
                if len(pending) >= 2 * self.workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()

    def _check_block(self, seen: set, a: int, b: int) -> None:
        if (a, b) in seen or not (0 <= a <= b < len(self.chunks)):
            raise IncompleteAuditError(f"block ({a}, {b}) was reported twice or does not exist")
        seen.add((a, b))

    def _check_all_blocks(self, seen: set, what: str) -> None:
        missing = len(self.blocks) - len(seen)
        if missing:
            raise IncompleteAuditError(
                f"{what}: {missing} of {len(self.blocks)} blocks of comparisons never came back; "
                "no report was written from a partial histogram"
            )

    def score(self, progress: Progress | None = None) -> ScoreSet:
        """Pass 1: per-(group, group) impostor histograms and exact genuine scores."""
        return self.reduce_pass1(self._map(pass1_block), progress)

    def reduce_pass1(
        self, results: Iterable[Pass1Block], progress: Progress | None = None
    ) -> ScoreSet:
        """Sum the blocks' pass-1 results, after checking they cover every comparison once.

        Raises :class:`IncompleteAuditError` when a block is missing, repeated, or does not
        hold its number of comparisons, and when the totals differ from ``n(n-1)/2`` (mated
        plus non-mated).
        """
        data, G = self.data, self.n_groups
        gen_scores = np.empty(len(data.gen_p), dtype=np.float32)
        hist = np.zeros((G, G, N_BINS), np.int64)
        seen: set = set()
        for r in results:
            self._check_block(seen, r.a, r.b)
            lo, hi = data.genuine_span(r.a, r.b)
            held = int(r.hist.sum()) + len(r.genuine)
            if len(r.genuine) != hi - lo or held != data.pairs(r.a, r.b) or (r.hist < 0).any():
                raise IncompleteAuditError(
                    f"block ({r.a}, {r.b}) holds {held} comparisons ({len(r.genuine)} mated), "
                    f"expected {data.pairs(r.a, r.b)} ({hi - lo} mated)"
                )
            gen_scores[lo:hi] = r.genuine
            hist[self.chunks[r.a][2], self.chunks[r.b][2]] += r.hist
            if progress is not None:
                progress(data.pairs(r.a, r.b))
        self._check_all_blocks(seen, "scoring")
        mated, non_mated = len(gen_scores), int(hist.sum())
        if mated + non_mated != self.n_pairs:
            raise IncompleteAuditError(
                f"scoring counted {mated:,} mated + {non_mated:,} non-mated comparisons, "
                f"expected n(n-1)/2 = {self.n_pairs:,}"
            )
        self.pass1_hist = hist
        p, q = data.gen_p, data.gen_q
        ga, gb = self.group[p], self.group[q]
        return ScoreSet(
            groups=[],
            impostor_hist=symmetrise(hist),
            genuine_scores=gen_scores,
            genuine_bins=quantise(gen_scores),
            genuine_group_a=ga,
            genuine_group_b=gb,
            genuine_unit=self.unit_of[p],
            unit_group=self.unit_group,
            counter=None,
            impostor_identities=np.where(
                (units_per_group := np.bincount(self.unit_group, minlength=G)) >= 2,
                units_per_group,
                0,
            ),
        )

    def count_impostors(
        self,
        thresholds: np.ndarray,
        progress: Progress | None = None,
        pair_thresholds: np.ndarray | None = None,
        max_pairs: int = MAX_PAIRS,
    ) -> tuple[np.ndarray, np.ndarray, PairCounts | None]:
        """Pass 2: per unit and partner group, impostor comparisons ``>=`` each threshold bin.

        Returns ``(matches (U, G, K), comparisons (U, G), pairs)`` for the sorted bins
        ``thresholds``. With ``pair_thresholds`` (sorted bins, each also in ``thresholds``) the
        same pass collects, per pair of units, the impostor comparisons at or above each of them
        (:class:`PairCounts`, for the two-way bootstrap), unless more than ``max_pairs``
        (unit pair, threshold) entries would be held: then ``pairs`` is ``None``.
        """
        thr = np.asarray(thresholds, dtype=np.intp)
        pthr = None if pair_thresholds is None else np.asarray(pair_thresholds, dtype=np.intp)
        results = self._map(pass2_block, thr, pthr)
        return self.reduce_pass2(results, thr, pthr, progress, max_pairs)

    def reduce_pass2(
        self,
        results: Iterable[Pass2Block],
        thr: np.ndarray,
        pthr: np.ndarray | None,
        progress: Progress | None = None,
        max_pairs: int = MAX_PAIRS,
    ) -> tuple[np.ndarray, np.ndarray, PairCounts | None]:
        """Sum the blocks' pass-2 counts (see :meth:`count_impostors`), checking that every
        block came back once and, after pass 1, that the counts agree with its histogram."""
        K, G, N = len(thr), self.n_groups, len(self.embeddings)
        U = len(self.unit_group)
        KP = 0 if pthr is None else len(pthr)
        per_template = np.zeros((N, G, K + 1), np.int64)
        parts: list[tuple[np.ndarray, np.ndarray]] = []
        held, overflow = 0, False
        seen: set = set()
        for r in results:
            self._check_block(seen, r.a, r.b)
            (ra, sa, ga), (rb, sb, gb) = self.chunks[r.a], self.chunks[r.b]
            if r.rows_a.shape != (sa - ra, K + 1) or r.rows_b.shape != (sb - rb, K + 1):
                raise IncompleteAuditError(f"block ({r.a}, {r.b}) returned counts of wrong shape")
            per_template[ra:sa, gb] += r.rows_a
            per_template[rb:sb, ga] += r.rows_b
            if pthr is not None and not overflow:
                assert r.keys is not None and r.counts is not None  # asked for with pthr
                held += len(r.keys)
                overflow = held > max_pairs
                if overflow:
                    parts.clear()
                else:
                    parts.append((r.keys, r.counts))
            if progress is not None:
                progress(self.data.pairs(r.a, r.b))
        self._check_all_blocks(seen, "bootstrap counts")
        self._check_against_pass1(per_template, int(thr[0]))
        # matches at threshold m = comparisons whose bin index count exceeds m
        at_least = np.cumsum(per_template[:, :, ::-1], axis=2)[:, :, ::-1][:, :, 1:]
        matches = np.zeros((U, G, K), np.int64)
        np.add.at(matches, self.unit_of, at_least)
        sizes = np.bincount(self.group, minlength=G)
        id_codes, id_of = np.unique(self.identity, return_inverse=True)
        same = np.bincount(id_of * G + self.group, minlength=len(id_codes) * G).reshape(-1, G)
        per_template_n = sizes[None, :] - same[id_of]
        comparisons = np.zeros((U, G), np.int64)
        np.add.at(comparisons, self.unit_of, per_template_n)
        pairs = None
        if pthr is not None and not overflow:
            keys = np.concatenate([k for k, _ in parts]) if parts else np.empty(0, np.int64)
            counts = np.concatenate([c for _, c in parts]) if parts else np.empty(0, np.int64)
            pairs = sparse_pairs(keys, counts, U, KP)
            pairs.templates = np.bincount(self.unit_of, minlength=U).astype(np.float64)
            pairs.same_i, pairs.same_j = self._same_identity_units()
        return matches, comparisons, pairs

    def _check_against_pass1(self, per_template: np.ndarray, lowest: int) -> None:
        """Pass 2 must find, per pair of groups, as many impostor comparisons at or above the
        lowest threshold as pass 1's histogram holds (each counted from both sides)."""
        if self.pass1_hist is None:
            return
        G = self.n_groups
        tail = self.pass1_hist[:, :, lowest:].sum(axis=2)
        want = tail + tail.T
        got = np.zeros((G, G), np.int64)
        np.add.at(got, self.group, per_template.sum(axis=2))
        if not np.array_equal(got, want):
            raise IncompleteAuditError(
                f"bootstrap counts found {int(got.sum()) // 2:,} impostor comparisons at or "
                f"above the lowest threshold, scoring found {int(want.sum()) // 2:,}"
            )

    def _same_identity_units(self) -> tuple[np.ndarray, np.ndarray]:
        """Pairs of units that are one identity in two groups (their pairs are genuine)."""
        unit_identity = np.unique(self.identity.astype(np.int64) * self.n_groups + self.group)
        unit_identity //= self.n_groups
        starts = np.flatnonzero(np.r_[True, unit_identity[1:] != unit_identity[:-1]])
        sizes = np.diff(np.r_[starts, len(unit_identity)])
        ii, jj = [], []
        for start, size in zip(starts[sizes > 1], sizes[sizes > 1], strict=True):
            i, j = np.triu_indices(size, 1)
            ii.append(start + i)
            jj.append(start + j)
        if not ii:
            return np.empty(0, np.intp), np.empty(0, np.intp)
        return np.concatenate(ii), np.concatenate(jj)


def sparse_pairs(keys: np.ndarray, counts: np.ndarray, n_units: int, n_thresholds: int):
    """:class:`PairCounts` (matches only) from keys ``(i · U + j) · (K + 1) + kidx`` with
    their counts, where ``kidx`` is how many thresholds the comparison reaches (1…K)."""
    K = n_thresholds
    keys, inverse = np.unique(keys, return_inverse=True)
    counts = np.bincount(inverse, weights=counts).astype(np.int64)
    pair, kidx = keys // (K + 1), keys % (K + 1)
    pairs, row = np.unique(pair, return_inverse=True)
    by_k = np.zeros((len(pairs), K + 1), np.int64)
    np.add.at(by_k, (row, kidx), counts)
    matches = np.cumsum(by_k[:, ::-1], axis=1)[:, ::-1][:, 1:]  # at or above threshold k
    return PairCounts(
        unit_i=(pairs // n_units).astype(np.intp),
        unit_j=(pairs % n_units).astype(np.intp),
        matches=matches.astype(np.float64),
    )


def _table_pairs(
    unit_a: np.ndarray, unit_b: np.ndarray, bins: np.ndarray, pair_thresholds, n_units: int
) -> PairCounts | None:
    """:class:`PairCounts` of a scores table's impostor rows, with the comparisons of every
    pair listed; ``None`` when more than :data:`MAX_PAIRS` pairs would be held."""
    pthr = np.asarray(pair_thresholds, dtype=np.intp)
    K = len(pthr)
    if len(unit_a) > 4 * MAX_PAIRS:
        return None
    lo, hi = np.minimum(unit_a, unit_b), np.maximum(unit_a, unit_b)
    listed, listed_n = np.unique(lo.astype(np.int64) * n_units + hi, return_counts=True)
    sel = bins >= pthr[0]
    if len(listed) + K * int(sel.sum()) > MAX_PAIRS:
        return None
    pk = np.searchsorted(pthr, bins[sel], side="right")
    keys = (lo[sel].astype(np.int64) * n_units + hi[sel]) * (K + 1) + pk
    pairs = sparse_pairs(keys, np.ones(len(keys), np.int64), n_units, K)
    pairs.listed_i = (listed // n_units).astype(np.intp)
    pairs.listed_j = (listed % n_units).astype(np.intp)
    pairs.listed_n = listed_n
    return pairs


TABLE_MAX_BINS = 65_536
TABLE_CHUNK = 4_000_000  # rows binned at once


def table_edges(
    scores: np.ndarray, must_include: Sequence[float], max_bins: int
) -> tuple[np.ndarray, bool]:
    """The bin edges of a scores table: every distinct score when there are at most
    ``max_bins`` of them, else ``max_bins`` quantiles of the scores (actual score values); the
    lowest score and every value of ``must_include`` (the exact thresholds) always. The flag
    says whether every distinct score is an edge (then every curve point is exact)."""
    step = max(1, len(scores) // (16 * max_bins))
    sample = np.unique(scores[::step])
    if step == 1 and len(sample) <= max_bins:
        grid = sample
    else:
        grid = sample[np.unique(np.linspace(0, len(sample) - 1, max_bins).astype(np.intp))]
    extra = np.asarray(list(must_include), dtype=np.float64)
    every = step == 1 and len(sample) <= max_bins
    return np.unique(np.concatenate([[scores.min()], grid, extra])), every


def bin_by_edges(scores: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin of each score on ascending ``edges`` (``edges[k] <= s < edges[k + 1]``; bin 0 also
    holds scores below ``edges[0]``), in chunks so the temporaries stay small."""
    if edges is EDGES:
        return quantise(scores)
    out = np.empty(len(scores), dtype=np.int32 if len(edges) < 2**31 else np.intp)
    for start in range(0, len(scores), TABLE_CHUNK):
        part = scores[start : start + TABLE_CHUNK]
        out[start : start + TABLE_CHUNK] = np.maximum(
            np.searchsorted(edges, part, side="right") - 1, 0
        )
    return out


def score_table(
    scores: np.ndarray,
    genuine: np.ndarray,
    group_a: np.ndarray,
    group_b: np.ndarray,
    groups: Sequence[str],
    subject_a: np.ndarray | None = None,
    subject_b: np.ndarray | None = None,
    *,
    targets: Sequence[float] = (),
    higher_is_better: bool = True,
    edges: np.ndarray | None = None,
    max_bins: int = TABLE_MAX_BINS,
) -> ScoreSet:
    """Build a :class:`ScoreSet` from one row per comparison (a vendor's scores table).

    Any real-valued scores, any scale; ``higher_is_better=False`` for distances. The thresholds
    for ``targets`` (over all impostors and per group) are computed exactly from the sorted
    impostor scores (:func:`metrics.exact_thresholds`) and made bin edges, so every rate at a
    reported threshold is an exact count. ``edges`` forces a fixed grid instead (e.g.
    :data:`EDGES`, the template bins; thresholds are then chosen among its edges).
    ``group_a``/``group_b`` are integer group codes; ``subject_a``/``subject_b`` integer
    identity codes (or ``None``, then no identity bootstrap is possible).
    """
    G = len(groups)
    s = np.asarray(scores, dtype=np.float64)
    if not higher_is_better:
        s = -s
    gen = np.asarray(genuine, dtype=bool)
    imp = ~gen
    group_a = np.asarray(group_a, dtype=np.intp)
    group_b = np.asarray(group_b, dtype=np.intp)
    fixed: dict | None = None
    if edges is None:
        fixed = {}
        n_imp = int(imp.sum())
        # the overall thresholds also at the calibration curve's levels (calibration.json)
        levels = [L for L in CURVE_FMRS if L * n_imp >= 1 and L < 1]
        sets: list[tuple[int | None, np.ndarray, list[float]]] = [
            (None, imp, list(targets) + levels)]
        sets += [(g, imp & (group_a == g) & (group_b == g), list(targets)) for g in range(G)]
        for key, rows, wanted in sets:
            if wanted and rows.any():
                for t, v in zip(wanted, metrics.exact_thresholds(s[rows], wanted), strict=True):
                    fixed[key, t] = v
        edges, exact_grid = table_edges(s, list(fixed.values()), max_bins)
    else:
        exact_grid = False
    beyond = 1.0001 if edges is EDGES else float(np.nextafter(edges[-1], np.inf))
    nb = len(edges)
    bins = bin_by_edges(s, edges)
    hist = np.zeros(G * G * nb, dtype=np.int64)
    for start in range(0, len(s), TABLE_CHUNK):
        part = slice(start, start + TABLE_CHUNK)
        i = imp[part]
        flat = (group_a[part][i] * G + group_b[part][i]) * nb + bins[part][i]
        hist += np.bincount(flat, minlength=G * G * nb)
    hist = symmetrise(hist.reshape(G, G, nb))
    ga, gb = group_a[gen], group_b[gen]
    common: dict[str, Any] = dict(
        edges=edges,
        fixed_thresholds=fixed,
        higher_is_better=higher_is_better,
        beyond=beyond,
        exact_grid=exact_grid,
    )
    if subject_a is None or subject_b is None:
        gen_unit = np.full(int(gen.sum()), -1, dtype=np.intp)
        return ScoreSet(
            list(groups),
            hist,
            s[gen],
            bins[gen],
            ga,
            gb,
            gen_unit,
            np.empty(0, np.intp),
            None,
            **common,
        )
    # units (identity within group) numbered densely without sorting 2N keys: mark the keys
    # present, rank them (memory: one flag per possible key, one int32 per row and side)
    key_a = np.asarray(subject_a, np.int64) * G + group_a
    key_b = np.asarray(subject_b, np.int64) * G + group_b
    present = np.zeros(int(max(key_a.max(), key_b.max())) + 1, dtype=bool)
    present[key_a] = True
    present[key_b] = True
    rank = (np.cumsum(present) - 1).astype(np.int32)
    units = np.flatnonzero(present)
    unit_a, unit_b = rank[key_a], rank[key_b]
    del key_a, key_b, present, rank
    U = len(units)
    within_imp = imp & (group_a == group_b)
    imp_ids = np.zeros(G, dtype=np.int64)
    for g in range(G):
        rows = within_imp & (group_a == g)
        seen = np.zeros(U, dtype=bool)
        seen[unit_a[rows]] = True
        seen[unit_b[rows]] = True
        imp_ids[g] = int(seen.sum())
    common["impostor_identities"] = imp_ids
    imp_bins = bins[imp]

    def counter(thresholds: np.ndarray, pair_thresholds: np.ndarray | None = None):
        thr = np.asarray(thresholds, dtype=np.intp)
        K = len(thr)
        kidx = np.searchsorted(thr, imp_bins, side="right")
        rows = np.concatenate([unit_a[imp] * G + group_b[imp], unit_b[imp] * G + group_a[imp]])
        counts = np.bincount(
            rows * (K + 1) + np.concatenate([kidx, kidx]), minlength=U * G * (K + 1)
        ).reshape(U, G, K + 1)
        matches = np.cumsum(counts[:, :, ::-1], axis=2)[:, :, ::-1][:, :, 1:]
        comparisons = np.bincount(rows, minlength=U * G).reshape(U, G)
        pairs = None
        if pair_thresholds is not None:
            pairs = _table_pairs(unit_a[imp], unit_b[imp], imp_bins, pair_thresholds, U)
        return matches, comparisons, pairs

    return ScoreSet(
        list(groups),
        hist,
        s[gen],
        bins[gen],
        ga,
        gb,
        unit_a[gen],
        (units % G).astype(np.intp),
        counter,
        **common,
    )
