"""Identity bootstrap: resample identities (not comparisons) within each group, vectorised.

Each unit (an identity within a group) carries, per rate, the count of errors and of
comparisons it took part in. A replicate draws each group's units with replacement
(multinomial weights), so every rate of the replicate is ``(w @ errors) / (w @ comparisons)``;
all replicates are one matrix product. Thresholds stay fixed at their full-data values.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import numpy as np

from faceaudit.errors import InputDataError

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
