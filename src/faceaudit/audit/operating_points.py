"""The worst-group operating point (NIST IR 8280's mitigation: one global threshold set so that
the worst-served group meets the target, never per-group thresholds), computed.

For a target FMR ``t`` a grid of global thresholds runs from the lowest one at which every
supported group's *point* FMR is ≤ ``t`` up to the lowest at which no supported group has a
false match left; the recommended threshold is the lowest grid threshold at which every
supported group's FMR *upper bound* (:func:`faceaudit.audit.intervals.rate_interval`) is ≤ ``t``.
What it costs is each group's FNMR there. Arrays in, arrays out; the report section is
:func:`faceaudit.audit.sections.operating_points_section`'s.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from faceaudit.audit.intervals import rate_interval

#: thresholds in a grid: the worst group's point FMR at t, t·10^(−1/8), …, t·10^(−15/8), and
#: the first threshold without false matches
GRID_STEPS = 16


@dataclass(frozen=True)
class WorstGroupGrid:
    """The grid of one target: threshold bins, ascending, and the recommended one."""

    target_fmr: float
    bins: list[int]
    recommended: int | None  # a bin of ``bins``; None when none qualifies
    note: str | None
    thresholds: list[float] = field(default_factory=list)  # of ``bins``, the input's scale


def group_fmr_curves(matches_within: np.ndarray, impostor_pairs: np.ndarray) -> np.ndarray:
    """``(G, B)`` within-group FMR at every threshold bin (NaN without impostors)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return matches_within / impostor_pairs[:, None]


def grid_bins(curves: np.ndarray, supported: np.ndarray, target: float,
              steps: int = GRID_STEPS) -> list[int]:
    """Bins of the grid for ``target`` over the ``supported`` groups' FMR ``curves``."""
    if not supported.any():
        return []
    worst = np.nanmax(curves[supported], axis=0)  # non-increasing in the bin
    n_bins = worst.size
    levels = target * 10.0 ** (-np.arange(steps) / 8.0)
    bins = {int(np.argmax(worst <= v)) for v in levels if np.any(worst <= v)}
    if np.any(worst == 0):
        bins.add(int(np.argmax(worst == 0)))
    return sorted(b for b in bins if b < n_bins)


def upper_bounds(
    k: int,
    matches_within: np.ndarray,
    impostor_pairs: np.ndarray,
    identities: list[int | None],
    replicates: np.ndarray | None,
    confidence: float,
) -> np.ndarray:
    """``(G,)`` upper bounds of each group's FMR at bin ``k`` (NaN without an interval);
    ``replicates`` ``(R, G)`` at that bin, or None."""
    G = len(impostor_pairs)
    out = np.full(G, np.nan)
    for g in range(G):
        n = int(impostor_pairs[g])
        if not n:
            continue
        e = int(matches_within[g, k])
        got = rate_interval(e / n, None if replicates is None else replicates[:, g], errors=e,
                            comparisons=n, identities=identities[g], confidence=confidence)
        if got.high is not None:
            out[g] = got.high
    return out


def recommend(
    target: float,
    bins: list[int],
    supported: np.ndarray,
    highs: dict[int, np.ndarray],
) -> WorstGroupGrid:
    """The lowest bin of ``bins`` at which every supported group's FMR upper bound
    (``highs[bin]``) is ≤ ``target``."""
    if not bins:
        return WorstGroupGrid(target, bins, None, "no group supports this target")
    for k in bins:
        high = highs[k][supported]
        if np.all(np.isfinite(high)) and np.all(high <= target):
            return WorstGroupGrid(target, bins, k, None)
    missing = any(not np.all(np.isfinite(highs[k][supported])) for k in bins)
    note = ("a group's FMR has no interval here (no identities or no bootstrap)" if missing
            else "no threshold of the grid keeps every group's FMR upper bound within the "
                 "target")
    return WorstGroupGrid(target, bins, None, note)
