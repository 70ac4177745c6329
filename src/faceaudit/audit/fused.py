"""Fused numba kernels for the blockwise scorer: binning and counting in one pass over a block.

The reference path (:func:`faceaudit.audit.scoring.pass1_reference`,
:func:`~faceaudit.audit.scoring.pass2_reference`) bins a block's scores with numpy in several
passes over memory (guess, fractional part, corrections, masks, ``bincount``). The kernels here
go over each row of the block once: a vectorised loop guesses every bin as the floor of
``(score + 1) * 10^4`` in float64 (its rounding error is ~1e-11 of a bin, so the guess is the
bin unless it lies within :data:`NEAR` of a whole number); the rare guesses that close are
checked against the printed edges either way (``edges[k] <= score < edges[k + 1]``, on the
float32 edges of :func:`faceaudit.audit.scoring._float32_edges`, the reference's test); then a
scalar loop adds the row to its thread's histogram (rows interleaved over threads, histograms
summed at the end). The scores themselves are the block's BLAS product, the same call as the
reference's (a product computed in row strips is not bit-identical to it in OpenBLAS), so
counts and genuine scores are the same bit for bit (tests/audit/test_fused.py compares both on
random and edge-tie data).

:data:`AVAILABLE` says whether numba imported; the scorer uses the kernels when it did, unless
``FACEAUDIT_SCORER=reference`` is set or :func:`use` turned them off. Kernels are compiled once
and cached on disk (``cache=True``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

numba: Any
try:
    import numba
    from numba import njit, prange
except ImportError:  # pragma: no cover - numba is a dependency; the reference path remains
    numba = None
AVAILABLE = numba is not None
"""Whether numba imported (the kernels can run)."""

_enabled = AVAILABLE and os.environ.get("FACEAUDIT_SCORER", "").lower() != "reference"

BINS_PER_UNIT64 = 10_000.0
TOP64 = 20_000.0  # the last bin (N_BINS - 1)
NEAR = 1e-6  # a guess this close to a whole number is checked against the edges


def enabled() -> bool:
    """Whether the scorer's block functions use the fused kernels (else the numpy reference)."""
    return _enabled


@contextmanager
def use(on: bool) -> Iterator[None]:
    """Within the block, use the fused kernels (``True``, when numba imported) or the numpy
    reference (``False``); the previous choice is restored afterwards."""
    global _enabled
    before = _enabled
    _enabled = bool(on) and AVAILABLE
    try:
        yield
    finally:
        _enabled = before


def limit_threads(n: int) -> None:
    """Let the kernels called from this thread use at most ``n`` threads (thread-local), so
    that a pool of scorer threads does not oversubscribe the cores."""
    if AVAILABLE:
        numba.set_num_threads(max(1, min(n, numba.config.NUMBA_NUM_THREADS)))


def threads() -> int:
    """Threads a kernel called from this thread runs on."""
    return int(numba.get_num_threads()) if AVAILABLE else 1


if AVAILABLE:

    @njit(inline="always", cache=True)
    def _guess(s):  # pragma: no cover - compiled
        """``(s + 1) * 10^4`` in float64, clipped to the bins: its floor is the bin of ``s``
        unless it lies within :data:`NEAR` of a whole number (its rounding error is ~1e-11)."""
        w = (np.float64(s) + 1.0) * BINS_PER_UNIT64
        return min(max(w, 0.0), TOP64)

    @njit(inline="always", cache=True)
    def _near(w):  # pragma: no cover - compiled
        f = w - np.floor(w)
        return (f < NEAR) | (f > 1.0 - NEAR)

    @njit(inline="always", cache=True)
    def _check(s, b, edges):  # pragma: no cover - compiled
        """The bin guess ``b`` checked against the printed (float32) edges, either way."""
        if b > 0 and s < edges[b]:
            b -= 1
        if s >= edges[b + 1]:
            b += 1
        return b

    @njit(inline="always", cache=True)
    def _bin(s, edges):  # pragma: no cover - compiled
        """Bin of one float32 score: ``edges[b] <= s < edges[b + 1]``."""
        w = _guess(s)
        b = np.int64(w)  # w >= 0: truncation is the floor
        if _near(w):
            b = _check(s, b, edges)
        return b

    @njit(parallel=True, cache=True, nogil=True)
    def _pass1(S, diag, gen_r, gen_c, edges, n_threads):  # pragma: no cover - compiled
        n, m = S.shape
        nb = len(edges) - 1
        part = np.zeros((n_threads, nb), np.int32)
        for t in prange(n_threads):
            h = part[t]
            buf = np.empty(m, np.uint32)
            for i in range(t, n, n_threads):
                row = S[i]
                j0 = i + 1 if diag else 0
                near = False
                for j in range(j0, m):  # vectorised: the guesses and whether any is near
                    w = _guess(row[j])
                    buf[j] = np.uint32(w)
                    near |= _near(w)
                if near:  # rare: some score within 1e-6 bins of an edge, checked exactly
                    for j in range(j0, m):
                        if _near(_guess(row[j])):
                            buf[j] = _check(row[j], np.int64(buf[j]), edges)
                for j in range(j0, m):
                    h[buf[j]] += 1
        hist = np.zeros(nb, np.int64)
        for t in range(n_threads):
            for k in range(nb):
                hist[k] += part[t, k]
        genuine = np.empty(len(gen_r), np.float32)
        for g in range(len(gen_r)):
            s = S[gen_r[g], gen_c[g]]
            genuine[g] = s
            hist[_bin(s, edges)] -= 1
        return hist, genuine

    @njit(inline="always", cache=True)
    def _reached(b, thr):  # pragma: no cover - compiled
        k = 0
        while k < len(thr) and thr[k] <= b:
            k += 1
        return k

    @njit(parallel=True, cache=True, nogil=True)
    def _pass2(S, diag, id_a, id_b, thr, cut, pair_low, edges, n_threads):  # pragma: no cover
        n, m = S.shape
        K = len(thr)
        rows_a = np.zeros((n, K + 1), np.int64)
        part_b = np.zeros((n_threads, m, K + 1), np.int64)
        pairs_in_row = np.zeros(n, np.int64)
        for t in prange(n_threads):
            pb = part_b[t]
            for i in range(t, n, n_threads):
                row = S[i]
                ida = id_a[i]
                held = 0
                for j in range(i + 1 if diag else 0, m):
                    s = row[j]
                    if s >= cut:
                        b = _bin(s, edges)
                        if b >= thr[0] and ida != id_b[j]:
                            k = _reached(b, thr)
                            rows_a[i, k] += 1
                            pb[j, k] += 1
                            if b >= pair_low:
                                held += 1
                pairs_in_row[i] = held
        rows_b = np.zeros((m, K + 1), np.int64)
        for t in range(n_threads):
            rows_b += part_b[t]
        return rows_a, rows_b, pairs_in_row

    @njit(parallel=True, cache=True, nogil=True)
    def _pass2_pairs(S, diag, id_a, id_b, cut, pair_low, offsets, edges):  # pragma: no cover
        n, m = S.shape
        total = offsets[n]
        rr = np.empty(total, np.int64)
        cc = np.empty(total, np.int64)
        bins = np.empty(total, np.int64)
        for i in prange(n):
            at = offsets[i]
            if offsets[i + 1] == at:
                continue
            row = S[i]
            ida = id_a[i]
            for j in range(i + 1 if diag else 0, m):
                s = row[j]
                if s >= cut:
                    b = _bin(s, edges)
                    if b >= pair_low and ida != id_b[j]:
                        rr[at], cc[at], bins[at] = i, j, b
                        at += 1
        return rr, cc, bins


def pass1_counts(
    S: np.ndarray, diag: bool, gen_r: np.ndarray, gen_c: np.ndarray, edges: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Histogram (``len(edges) - 1`` bins, int64) of a float32 block's impostor scores and
    the block's genuine scores at ``(gen_r, gen_c)``; ``diag``: only the strict upper triangle
    counts. ``edges`` are the float32 edges padded with ``inf``."""
    S = np.ascontiguousarray(S, dtype=np.float32)
    return _pass1(S, diag, np.ascontiguousarray(gen_r, np.int64),
                  np.ascontiguousarray(gen_c, np.int64), edges, threads())


def pass2_counts(
    S: np.ndarray,
    diag: bool,
    id_a: np.ndarray,
    id_b: np.ndarray,
    thr: np.ndarray,
    cut: np.float32,
    pair_low: int | None,
    edges: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray] | None]:
    """Per row and per column of a float32 block: impostor comparisons (``id_a[i] !=
    id_b[j]``) by how many of the sorted bins ``thr`` they reach (0…K, counted only from
    ``thr[0]``), and, with ``pair_low``, the ``(row, column, bin)`` of those at bin
    ``pair_low`` or above."""
    S = np.ascontiguousarray(S, dtype=np.float32)
    id_a = np.ascontiguousarray(id_a, np.int64)
    id_b = np.ascontiguousarray(id_b, np.int64)
    thr = np.ascontiguousarray(thr, np.int64)
    low = np.iinfo(np.int64).max if pair_low is None else int(pair_low)
    rows_a, rows_b, per_row = _pass2(S, diag, id_a, id_b, thr, np.float32(cut), low, edges,
                                     threads())
    if pair_low is None:
        return rows_a, rows_b, None
    offsets = np.r_[0, np.cumsum(per_row)].astype(np.int64)
    return rows_a, rows_b, _pass2_pairs(S, diag, id_a, id_b, np.float32(cut), low, offsets,
                                        edges)
