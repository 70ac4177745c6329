"""Exhaustive blockwise scoring of templates into per-group histograms and per-identity counts.

Scores are cosine similarities of unit vectors, quantised to bins of width :data:`BIN_WIDTH`
(``bin = floor((score + 1) / BIN_WIDTH)``, 20,001 bins over [-1, 1]); a threshold is a bin's
lower edge, so thresholds have a resolution of 1e-4. A comparison *matches* at threshold bin
``k`` when its bin is ``>= k``.

Pass 1 (:func:`score_templates`) computes every pair once (upper triangle, blocks of
``BLOCK`` × ``BLOCK`` templates, memory bounded independently of N), keeps genuine scores
exactly and adds impostor bins to one histogram per (group, group). Pass 2
(:meth:`TemplateScores.count_impostors`) recomputes the blocks to count, per identity-in-group
("unit") and partner group, the impostor comparisons at or above a few thresholds: the input of
the identity bootstrap.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache

import numpy as np
from threadpoolctl import ThreadpoolController

BIN_WIDTH = 1e-4
BINS_PER_UNIT = 10_000  # 1 / BIN_WIDTH, exact in float32
N_BINS = 2 * BINS_PER_UNIT + 1
BLOCK = 2048

Progress = Callable[[int], None]


def quantise(scores: np.ndarray) -> np.ndarray:
    """Bin index of each score: ``floor((score + 1) * 10000)`` clipped to ``[0, 20000]``.

    The arithmetic runs in the scores' own float dtype so that float32 scores land in exactly the
    bins the blockwise scorer gives them.
    """
    scores = np.asarray(scores)
    if not np.issubdtype(scores.dtype, np.floating):
        scores = scores.astype(np.float64)
    work = scores + scores.dtype.type(1)
    work *= scores.dtype.type(BINS_PER_UNIT)
    np.clip(work, 0, N_BINS - 1, out=work)
    return work.astype(np.intp)


def bin_edge(k: int | np.ndarray) -> float | np.ndarray:
    """Score value of the lower edge of bin ``k`` (the threshold that bin ``k`` stands for)."""
    return np.round(-1.0 + np.asarray(k) / BINS_PER_UNIT, 4)


@dataclass
class ScoreSet:
    """Everything the metrics need, whatever the input (templates or a scores table).

    ``impostor_hist[a, b]`` counts impostor comparisons between groups ``a`` and ``b`` per bin
    (symmetric). Genuine comparisons are kept one per row with their exact score, bin, the two
    groups and the unit (identity within ``group_a``; -1 when unknown). ``unit_group`` gives
    each unit's group. ``counter`` maps sorted threshold bins (K,) to ``(matches (U, G, K),
    comparisons (U, G))``: impostor comparisons of each unit with each partner group at or
    above each threshold; ``None`` when identities are unknown.
    """

    groups: list[str]
    impostor_hist: np.ndarray
    genuine_scores: np.ndarray
    genuine_bins: np.ndarray
    genuine_group_a: np.ndarray
    genuine_group_b: np.ndarray
    genuine_unit: np.ndarray
    unit_group: np.ndarray
    counter: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]] | None


def symmetrise(hist: np.ndarray) -> np.ndarray:
    """Turn per-(a, b) counts filled for a ≤ b (or both orders) into a symmetric matrix."""
    out = hist + np.swapaxes(hist, 0, 1)
    idx = np.arange(hist.shape[0])
    out[idx, idx] = hist[idx, idx]
    return out


@cache
def _blas() -> ThreadpoolController:
    """The process's BLAS/OpenMP libraries, found once (the scan costs ~0.1 s)."""
    return ThreadpoolController()


def _default_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


class TemplateScores:
    """Blockwise exhaustive scorer over unit-norm templates with identity and group codes."""

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
        self.triu = np.triu(np.ones((block, block), dtype=bool), 1)
        unit_key = self.identity.astype(np.int64) * n_groups + self.group
        units, self.unit_of = np.unique(unit_key, return_inverse=True)
        self.unit_group = (units % n_groups).astype(np.intp)

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

    def _block_pairs(self, a: int, b: int) -> int:
        na = self.chunks[a][1] - self.chunks[a][0]
        nb = self.chunks[b][1] - self.chunks[b][0]
        return na * (na - 1) // 2 if a == b else na * nb

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

    def _run(self, work: Callable[[int, int, object], None], make_acc, progress):
        """Run ``work(a, b, acc)`` over all blocks on ``workers`` threads; return accumulators."""
        lock = threading.Lock()
        parts = [self.blocks[w :: self.workers] for w in range(self.workers)]

        def run_part(part: list[tuple[int, int]]):
            acc = make_acc()
            for a, b in part:
                work(a, b, acc)
                if progress is not None:
                    with lock:
                        progress(self._block_pairs(a, b))
            return acc

        blas_threads = 1 if self.workers > 1 else None
        with _blas().limit(limits=blas_threads), ThreadPoolExecutor(self.workers) as pool:
            return list(pool.map(run_part, parts))

    def _product(self, a: int, b: int) -> np.ndarray:
        ra, rb = self.chunks[a], self.chunks[b]
        return self.embeddings[ra[0] : ra[1]] @ self.embeddings[rb[0] : rb[1]].T

    def score(self, progress: Progress | None = None) -> ScoreSet:
        """Pass 1: per-(group, group) impostor histograms and exact genuine scores."""
        p, q = self._genuine_pairs()
        key = self.chunk_of[p] * len(self.chunks) + self.chunk_of[q]
        order = np.argsort(key, kind="stable")
        p, q, key = p[order], q[order], key[order]
        gen_scores = np.empty(len(p), dtype=np.float32)
        G = self.n_groups

        def work(a: int, b: int, acc) -> None:
            S = self._product(a, b)
            k = a * len(self.chunks) + b
            lo, hi = np.searchsorted(key, [k, k + 1])
            ra, rb = self.chunks[a][0], self.chunks[b][0]
            gs = S[p[lo:hi] - ra, q[lo:hi] - rb]
            gen_scores[lo:hi] = gs
            S += np.float32(1)
            S *= np.float32(BINS_PER_UNIT)
            bins = S.astype(np.intp)
            vals = bins[self.triu[: len(S), : len(S)]] if a == b else bins.ravel()
            h = np.bincount(vals, minlength=N_BINS)
            if len(h) > N_BINS:
                h[N_BINS - 1] += h[N_BINS:].sum()
                h = h[:N_BINS]
            h -= np.bincount(quantise(gs), minlength=N_BINS)
            acc[self.chunks[a][2], self.chunks[b][2]] += h

        accs = self._run(work, lambda: np.zeros((G, G, N_BINS), np.int64), progress)
        hist = symmetrise(np.sum(accs, axis=0))
        ga, gb = self.group[p], self.group[q]
        return ScoreSet(
            groups=[],
            impostor_hist=hist,
            genuine_scores=gen_scores,
            genuine_bins=quantise(gen_scores),
            genuine_group_a=ga,
            genuine_group_b=gb,
            genuine_unit=self.unit_of[p],
            unit_group=self.unit_group,
            counter=None,
        )

    def count_impostors(
        self, thresholds: np.ndarray, progress: Progress | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Pass 2: per unit and partner group, impostor comparisons ``>=`` each threshold bin.

        Returns ``(matches (U, G, K), comparisons (U, G))`` for the sorted bins ``thresholds``.
        """
        thr = np.asarray(thresholds, dtype=np.intp)
        K, G, N = len(thr), self.n_groups, len(self.embeddings)
        cut = np.float32(bin_edge(int(thr[0])) - 2 * BIN_WIDTH)

        def add(acc, rows, partner, kidx, n_rows, start) -> None:
            c = np.bincount(rows * (K + 1) + kidx, minlength=n_rows * (K + 1))
            acc[start : start + n_rows, partner] += c.reshape(n_rows, K + 1)

        def work(a: int, b: int, acc) -> None:
            S = self._product(a, b)
            (ra, sa, ga), (rb, sb, gb) = self.chunks[a], self.chunks[b]
            rr, cc = np.nonzero(S >= cut)
            bins = quantise(S[rr, cc])
            keep = (bins >= thr[0]) & (self.identity[ra + rr] != self.identity[rb + cc])
            if a == b:
                keep &= cc > rr
            rr, cc, bins = rr[keep], cc[keep], bins[keep]
            kidx = np.searchsorted(thr, bins, side="right")
            add(acc, rr, gb, kidx, sa - ra, ra)
            add(acc, cc, ga, kidx, sb - rb, rb)

        accs = self._run(work, lambda: np.zeros((N, G, K + 1), np.int64), progress)
        per_template = np.sum(accs, axis=0)
        # matches at threshold m = comparisons whose bin index count exceeds m
        at_least = np.cumsum(per_template[:, :, ::-1], axis=2)[:, :, ::-1][:, :, 1:]
        U = len(self.unit_group)
        matches = np.zeros((U, G, K), np.int64)
        np.add.at(matches, self.unit_of, at_least)
        sizes = np.bincount(self.group, minlength=G)
        id_codes, id_of = np.unique(self.identity, return_inverse=True)
        same = np.bincount(id_of * G + self.group, minlength=len(id_codes) * G).reshape(-1, G)
        per_template_n = sizes[None, :] - same[id_of]
        comparisons = np.zeros((U, G), np.int64)
        np.add.at(comparisons, self.unit_of, per_template_n)
        return matches, comparisons


def score_templates(
    embeddings: np.ndarray,
    identity: np.ndarray,
    group: np.ndarray,
    groups: Sequence[str],
    *,
    workers: int | None = None,
    progress: Progress | None = None,
    pass2_progress: Callable[[], Progress | None] | None = None,
) -> ScoreSet:
    """Score every pair of templates; see the module docstring.

    ``identity`` and ``group`` are integer codes (N,); ``groups`` names the group codes.
    ``pass2_progress`` is called when pass 2 starts and returns its progress callback.
    """
    scorer = TemplateScores(embeddings, identity, group, len(groups), workers=workers)
    result = scorer.score(progress)
    result.groups = list(groups)

    def counter(thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        cb = pass2_progress() if pass2_progress is not None else None
        return scorer.count_impostors(thresholds, cb)

    result.counter = counter
    return result


def score_table(
    scores: np.ndarray,
    genuine: np.ndarray,
    group_a: np.ndarray,
    group_b: np.ndarray,
    groups: Sequence[str],
    subject_a: np.ndarray | None = None,
    subject_b: np.ndarray | None = None,
) -> ScoreSet:
    """Build a :class:`ScoreSet` from one row per comparison (a vendor's scores table).

    ``group_a``/``group_b`` are integer group codes; ``subject_a``/``subject_b`` integer
    identity codes (or ``None``, then no identity bootstrap is possible).
    """
    G = len(groups)
    bins = quantise(np.asarray(scores, dtype=np.float64))
    gen = np.asarray(genuine, dtype=bool)
    imp = ~gen
    flat = (group_a[imp] * G + group_b[imp]) * N_BINS + bins[imp]
    hist = np.bincount(flat, minlength=G * G * N_BINS).reshape(G, G, N_BINS)
    hist = symmetrise(hist)
    ga, gb = group_a[gen], group_b[gen]
    if subject_a is None or subject_b is None:
        gen_unit = np.full(int(gen.sum()), -1, dtype=np.intp)
        return ScoreSet(
            list(groups),
            hist,
            np.asarray(scores)[gen],
            bins[gen],
            ga,
            gb,
            gen_unit,
            np.empty(0, np.intp),
            None,
        )
    keys = np.concatenate([subject_a * G + group_a, subject_b * G + group_b]).astype(np.int64)
    units, inverse = np.unique(keys, return_inverse=True)
    unit_a, unit_b = inverse[: len(scores)], inverse[len(scores) :]
    U = len(units)

    def counter(thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        thr = np.asarray(thresholds, dtype=np.intp)
        K = len(thr)
        kidx = np.searchsorted(thr, bins[imp], side="right")
        rows = np.concatenate([unit_a[imp] * G + group_b[imp], unit_b[imp] * G + group_a[imp]])
        counts = np.bincount(
            rows * (K + 1) + np.concatenate([kidx, kidx]), minlength=U * G * (K + 1)
        ).reshape(U, G, K + 1)
        matches = np.cumsum(counts[:, :, ::-1], axis=2)[:, :, ::-1][:, :, 1:]
        comparisons = np.bincount(rows, minlength=U * G).reshape(U, G)
        return matches, comparisons

    return ScoreSet(
        list(groups),
        hist,
        np.asarray(scores)[gen],
        bins[gen],
        ga,
        gb,
        unit_a[gen],
        (units % G).astype(np.intp),
        counter,
    )
