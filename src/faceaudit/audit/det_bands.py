"""Bootstrap bands of the DET curves, computed: at every point of a group's DET curve, the
identity-bootstrap interval of its FNMR at that threshold (the group's identities resampled,
as for the rates at the targets; :func:`faceaudit.audit.intervals.rate_interval` reads the
interval off the replicates). FMR's uncertainty is shown at the targets (their intervals),
not along the curve: its two-way bootstrap at 200 thresholds per group would cost more than
the whole audit. Arrays in, arrays out.
"""

from __future__ import annotations

import numpy as np

from faceaudit.audit.bootstrap import bootstrap_rates
from faceaudit.audit.intervals import rate_interval
from faceaudit.audit.scoring import ScoreSet


def fnmr_bands(scores: ScoreSet, curve_bins: dict[int, np.ndarray], reps: int, seed: int,
               confidence: float) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """``{group: (low, high)}`` of each group's FNMR at its DET curve's threshold bins
    ``curve_bins[group]`` (NaN where no interval); empty without identities or replicates."""
    if reps < 1 or not curve_bins or len(scores.unit_group) == 0 or \
            scores.genuine_unit is None or np.any(scores.genuine_unit < 0):
        return {}
    U = len(scores.unit_group)
    within = scores.genuine_group_a == scores.genuine_group_b
    g_of, unit, bins = (scores.genuine_group_a[within], scores.genuine_unit[within],
                        scores.genuine_bins[within])
    errors: list[np.ndarray] = []
    totals: list[np.ndarray] = []
    columns: dict[int, tuple[int, int]] = {}
    for g, ks in curve_bins.items():
        mine = g_of == g
        genuine = np.bincount(unit[mine], minlength=U)
        # a genuine comparison in bin b misses at threshold bin k when b < k: at ks[j] for
        # every j >= (the first j with ks[j] > b)
        order = np.argsort(ks, kind="stable")
        first = np.searchsorted(np.asarray(ks)[order], bins[mine], side="right")
        per = np.zeros((U, len(ks) + 1), np.int64)
        np.add.at(per, (unit[mine], first), 1)
        missed = np.empty((U, len(ks)), np.int64)  # (U, J), in the curve's own order
        missed[:, order] = per.cumsum(axis=1)[:, :-1]
        columns[g] = (len(errors), len(errors) + len(ks))
        errors += list(missed.T)
        totals += [genuine] * len(ks)
    reps_ = bootstrap_rates(scores.unit_group, np.stack(errors, 1), np.stack(totals, 1), reps,
                            seed)
    out: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for g, (lo, hi) in columns.items():
        err = np.stack(errors[lo:hi])  # (J, U)
        count = int(totals[lo].sum())
        identities = int((totals[lo] > 0).sum())
        low, high = np.full(hi - lo, np.nan), np.full(hi - lo, np.nan)
        for j in range(hi - lo):
            e = int(err[j].sum())
            if not count:
                continue
            got = rate_interval(e / count, reps_[:, lo + j], errors=e,
                                comparisons=count, identities=identities, confidence=confidence)
            if got.low is not None and got.high is not None:
                low[j], high[j] = got.low, got.high
        out[g] = (low, high)
    return out
