"""Identity bootstrap: resample identities (not comparisons) within each group, vectorised.

Each unit (an identity within a group) carries, per rate, the count of errors and of
comparisons it took part in. A replicate draws each group's units with replacement
(multinomial weights), so every rate of the replicate is ``(w @ errors) / (w @ comparisons)``;
all replicates are one matrix product. Thresholds stay fixed at their full-data values.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from faceaudit.base.errors import InputDataError

_MAX_WEIGHTS = 20_000_000  # weights held at once (reps × units)


def resample_weights(
    unit_group: np.ndarray, reps: int, rng: np.random.Generator
) -> Iterator[np.ndarray]:
    """Yield ``(r, U)`` float weight matrices, ``r`` ≤ ``reps`` in total ``reps`` rows.

    Row ``i`` says how many times each unit was drawn in replicate ``i``; units are drawn with
    replacement within their own group, so group sizes are kept.
    """
    unit_group = np.asarray(unit_group)
    n_units = len(unit_group)
    members = [np.flatnonzero(unit_group == g) for g in np.unique(unit_group)]
    step = max(1, min(reps, _MAX_WEIGHTS // max(n_units, 1)))
    for start in range(0, reps, step):
        r = min(step, reps - start)
        weights = np.zeros((r, n_units))
        for idx in members:
            weights[:, idx] = rng.multinomial(len(idx), np.full(len(idx), 1 / len(idx)), size=r)
        yield weights


def draw_weights(unit_group: np.ndarray, reps: int, seed: int) -> np.ndarray:
    """All ``(reps, U)`` resampling weights of one bootstrap at once (see
    :func:`resample_weights`), to apply the same resampled identities to several models.

    Holds ``reps × U`` floats (1000 replicates of 6,000 identities: 48 MB).
    """
    if reps < 1:
        raise InputDataError("the bootstrap needs at least one replicate")
    rng = np.random.default_rng(seed)
    return np.concatenate(list(resample_weights(unit_group, reps, rng)))


def bootstrap_rates(
    unit_group: np.ndarray,
    errors: np.ndarray,
    comparisons: np.ndarray,
    reps: int,
    seed: int,
) -> np.ndarray:
    """Replicates ``(reps, M)`` of ``M`` rates ``sum(errors) / sum(comparisons)`` over units.

    ``errors`` and ``comparisons`` are ``(U, M)``; a replicate whose denominator is 0 gives NaN.
    """
    errors = np.asarray(errors, dtype=np.float64)
    comparisons = np.asarray(comparisons, dtype=np.float64)
    if errors.shape != comparisons.shape or errors.ndim != 2:
        raise InputDataError("errors and comparisons must both be (units, rates) arrays")
    if reps < 1:
        raise InputDataError("the bootstrap needs at least one replicate")
    rng = np.random.default_rng(seed)
    out = []
    for w in resample_weights(unit_group, reps, rng):
        with np.errstate(divide="ignore", invalid="ignore"):
            out.append((w @ errors) / (w @ comparisons))
    return np.concatenate(out)


def percentile_interval(
    replicates: np.ndarray, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval over axis 0, ignoring NaN replicates (``inf`` kept as ``inf``)."""
    tail = (1 - confidence) / 2 * 100
    reps = np.asarray(replicates, dtype=np.float64)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns give NaN, by design
        low, high = np.nanpercentile(reps, [tail, 100 - tail], axis=0)
    return low, high


@dataclass
class PairCounts:
    """Impostor comparisons between pairs of units, for the two-way bootstrap of FMR.

    Pair ``p`` joins units ``unit_i[p]`` and ``unit_j[p]`` (distinct, any order, each unordered
    pair once) and ``matches[p, k]`` counts its impostor comparisons at or above threshold ``k``;
    pairs without a match above the lowest threshold are not listed (the sparse part).
    Denominators — the comparisons of each pair — are either in closed form from ``templates``
    per unit (exhaustive protocol: every template of one unit meets every template of the other,
    except units of one identity in two groups, listed in ``same_i``/``same_j``), or listed per
    pair (``listed_i``, ``listed_j``, ``listed_n``; a scores table).
    """

    unit_i: np.ndarray
    unit_j: np.ndarray
    matches: np.ndarray
    templates: np.ndarray | None = None
    same_i: np.ndarray | None = None
    same_j: np.ndarray | None = None
    listed_i: np.ndarray | None = None
    listed_j: np.ndarray | None = None
    listed_n: np.ndarray | None = None

    @property
    def size(self) -> int:
        """Pairs held (sparse matches plus listed denominators)."""
        listed = 0 if self.listed_i is None else len(self.listed_i)
        return len(self.unit_i) + listed


def _cell_sums(
    w: np.ndarray, ui: np.ndarray, uj: np.ndarray, values: np.ndarray, cell: np.ndarray, n: int
) -> np.ndarray:
    """``out[r, c, k] = Σ_{p in cell c} w[r, ui_p] · w[r, uj_p] · values[p, k]``."""
    out = np.zeros((w.shape[0], n, values.shape[1]))
    if len(ui) == 0:
        return out
    order = np.argsort(cell, kind="stable")
    cells = cell[order]
    starts = np.flatnonzero(np.r_[True, cells[1:] != cells[:-1]])
    prod = w[:, ui[order]] * w[:, uj[order]]
    for k in range(values.shape[1]):
        out[:, cells[starts], k] = np.add.reduceat(prod * values[order, k], starts, axis=1)
    return out


def two_way_fmr(w: np.ndarray, unit_group: np.ndarray, n_groups: int, pairs: PairCounts):
    """FMR replicates ``(r, G, G, K)`` for weights ``w`` (r, U), weighting each impostor pair of
    units by ``w_i · w_j`` (both identities resampled; groups independently)."""
    G = n_groups

    def cell_of(ui: np.ndarray, uj: np.ndarray) -> np.ndarray:
        a, b = unit_group[ui], unit_group[uj]
        return np.minimum(a, b) * G + np.maximum(a, b)

    numer = _cell_sums(
        w, pairs.unit_i, pairs.unit_j, pairs.matches, cell_of(pairs.unit_i, pairs.unit_j), G * G
    )[..., :]
    if pairs.templates is not None:
        T = np.zeros((w.shape[1], G))
        T[np.arange(w.shape[1]), unit_group] = pairs.templates
        S = w @ T
        Q = (w * w) @ (T * T)
        denom = S[:, :, None] * S[:, None, :]
        idx = np.arange(G)
        denom[:, idx, idx] = (S * S - Q) / 2
        denom = denom.reshape(w.shape[0], G * G)
        if pairs.same_i is not None and pairs.same_j is not None and len(pairs.same_i):
            tt = (pairs.templates[pairs.same_i] * pairs.templates[pairs.same_j])[:, None]
            denom -= _cell_sums(
                w, pairs.same_i, pairs.same_j, tt, cell_of(pairs.same_i, pairs.same_j), G * G
            )[..., 0]
    else:
        # without per-template counts the pairs are listed one by one (a scores table)
        assert pairs.listed_i is not None and pairs.listed_j is not None
        denom = _cell_sums(
            w,
            pairs.listed_i,
            pairs.listed_j,
            np.asarray(pairs.listed_n, dtype=np.float64)[:, None],
            cell_of(pairs.listed_i, pairs.listed_j),
            G * G,
        )[..., 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        rates = numer / denom[:, :, None]
    rates = rates.reshape(w.shape[0], G, G, -1)
    upper = np.triu_indices(G, 1)
    rates[:, upper[1], upper[0]] = rates[:, upper[0], upper[1]]  # symmetric
    return rates


def bootstrap_with_pairs(
    unit_group: np.ndarray,
    errors: np.ndarray,
    comparisons: np.ndarray,
    reps: int,
    seed: int,
    pairs: PairCounts | None,
    n_groups: int,
    weights: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """One-way replicates ``(reps, M)`` as :func:`bootstrap_rates` and, on the same resamples,
    two-way FMR replicates ``(reps, G, G, K)`` from ``pairs`` (``None`` without pairs).

    ``weights`` (``(reps, U)``, from :func:`draw_weights`) replaces the draw from ``seed``: the
    same resampled identities for several models (a paired bootstrap).
    """
    errors = np.asarray(errors, dtype=np.float64)
    comparisons = np.asarray(comparisons, dtype=np.float64)
    if reps < 1:
        raise InputDataError("the bootstrap needs at least one replicate")
    if weights is not None and weights.shape != (reps, len(unit_group)):
        raise InputDataError(
            f"bootstrap weights are {weights.shape}, expected ({reps}, {len(unit_group)})"
        )
    rng = np.random.default_rng(seed)
    budget = _MAX_WEIGHTS if pairs is None else max(1, _MAX_WEIGHTS // 4)
    per_rep = max(len(unit_group), 1) + (0 if pairs is None else pairs.size)
    step = max(1, min(reps, budget // per_rep))
    if weights is not None:
        blocks = (weights[start : start + step] for start in range(0, reps, step))
    else:
        blocks = (
            w
            for start in range(0, reps, step)
            for w in resample_weights(unit_group, min(step, reps - start), rng)
        )
    one, two = [], []
    for w in blocks:
        with np.errstate(divide="ignore", invalid="ignore"):
            one.append((w @ errors) / (w @ comparisons))
        if pairs is not None:
            two.append(two_way_fmr(w, unit_group, n_groups, pairs))
    return np.concatenate(one), (np.concatenate(two) if pairs is not None else None)
