"""The 1:N worst-group operating point (``--operating-points`` with ``--mode
identification``), computed: one global threshold at which every probe group's FPIR stays
within a target — never per-group thresholds (NIST IR 8280's mitigation).

Each target of the audit (``--fmr``) is read here as a *target FPIR*. Its grid of thresholds
is the calibrated thresholds (:func:`grid_levels`) of the 1:1 FMR levels ``t``,
``t·10^(−1/8)``, … down to ``t / (10 N)`` (``N`` the audited gallery size: FPIR ≈ N · FMR,
so the grid reaches a decade beyond the FPIR target); the rows kept run from the lowest
threshold at which every supported probe group's *point* FPIR is ≤ ``t`` up to the lowest at
which no supported group has a false positive left. The recommended threshold is the lowest
row at which every supported group's FPIR *upper bound*
(:func:`faceaudit.audit.intervals.rate_interval`) is ≤ ``t``; what it costs is each group's
FNIR there. A group is supported when its non-mated searches meet the rule of three for ``t``.

Arrays in, arrays out; :func:`faceaudit.audit.identification_report.worst_group_section`
presents it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from faceaudit.audit import metrics
from faceaudit.audit.identification_rates import IdentificationRates, PooledRate
from faceaudit.audit.intervals import rate_interval

STEPS_PER_DECADE = 8

NO_SUPPORT = "no probe group has enough non-mated searches for this target (rule of three)"
NEVER_WITHIN = "even the grid's highest threshold leaves a group's FPIR above the target"
NO_INTERVAL = "a group's FPIR has no interval here (no identities or no bootstrap)"
NOT_WITHIN = ("no threshold of the grid keeps every probe group's FPIR upper bound within the "
              "target")


@dataclass(frozen=True)
class IdentificationGrid:
    """The grid of one target FPIR: threshold indices of the counts (ascending threshold),
    the recommended one, and which probe groups support the target."""

    target_fpir: float
    rows: list[int]
    recommended: int | None
    note: str | None
    supported: list[bool]


def grid_levels(target: float, gallery_size: int) -> list[float]:
    """The 1:1 FMR levels whose thresholds make the grid of target FPIR ``target``:
    ``target · 10^(−j/8)`` from ``target`` down to ``target / (10 · gallery_size)``."""
    decades = math.log10(10 * max(int(gallery_size), 1))
    return [target * 10.0 ** (-j / STEPS_PER_DECADE)
            for j in range(int(math.ceil(decades * STEPS_PER_DECADE)) + 1)]


def fpir_upper_bound(rate: PooledRate, g: int, confidence: float) -> float:
    """Group ``g``'s FPIR upper bound (NaN without an interval)."""
    e, n = int(rate.errors[g]), int(rate.trials[g])
    if not n:
        return math.nan
    got = rate_interval(e / n, None if rate.replicates is None else rate.replicates[:, g],
                        errors=e, comparisons=n, identities=int(rate.identities[g]),
                        confidence=confidence)
    return math.nan if got.high is None else float(got.high)


def worst_group_grid(rates: IdentificationRates, target: float, indices: list[int],
                     confidence: float) -> IdentificationGrid:
    """The grid of ``target`` over the counts' threshold ``indices`` and its recommended
    threshold (see the module docstring)."""
    thresholds = rates.counts.thresholds
    order = sorted(set(indices), key=lambda t: (float(thresholds[t]), t))
    trials = rates.points[order[0]].fpir.trials if order else np.zeros(0)
    supported = np.array([bool(n) and metrics.supports(int(n), target) for n in trials],
                         dtype=bool)
    if not order or not supported.any():
        return IdentificationGrid(target, [], None, NO_SUPPORT, supported.tolist())
    start = next((i for i, t in enumerate(order)
                  if np.all(rates.points[t].fpir.value[supported] <= target)), None)
    if start is None:
        return IdentificationGrid(target, [], None, NEVER_WITHIN, supported.tolist())
    rows = []
    for t in order[start:]:
        rows.append(t)
        if not rates.points[t].fpir.errors[supported].any():
            break
    missing = False
    for t in rows:
        highs = np.array([fpir_upper_bound(rates.points[t].fpir, int(g), confidence)
                          for g in np.flatnonzero(supported)])
        if not np.all(np.isfinite(highs)):
            missing = True
            continue
        if np.all(highs <= target):
            return IdentificationGrid(target, rows, t, None, supported.tolist())
    return IdentificationGrid(target, rows, None, NO_INTERVAL if missing else NOT_WITHIN,
                              supported.tolist())
