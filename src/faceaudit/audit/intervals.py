"""Confidence intervals of rates, written once: a Wilson score interval on the *effective*
sample size that the identity bootstrap measures, an exact one-sided Clopper–Pearson bound when
no error (or only errors) was seen, and no interval when resampling identities cannot vary the
rate (one identity, one pair of identities).

Why not the bootstrap's own percentiles: with 30 identities per group they cover a 95 % FMR
0.90–0.92 of the time (``bench/interval_coverage.py``, docs/metrics.md "Interval coverage"),
because the resampling spread of a mean over ``m`` clusters is ``(m − 1) / m`` of its sampling
variance and a small rate's distribution is skewed. The bootstrap still measures how much the
identity clustering inflates the variance: ``n_eff = p (1 − p) / (m / (m − 1) · var*)``
comparisons would carry the same information independently, and the Wilson interval on
``n_eff`` handles the skew of a small rate the way it does for a binomial count.

Arrays in, numbers out; the report's estimate objects are :mod:`faceaudit.audit.estimates`'.
The max/min ratio's interval from these (on the log scale) is
:func:`faceaudit.audit.gate_rules.ratio_interval` (plain Python: the policy recomputes it).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

#: how an interval was made (``interval`` of an estimate object in report.json)
WILSON_EFFECTIVE = "wilson-effective-n"
CLOPPER_PEARSON = "clopper-pearson"

#: why a rate that has replicates gets no interval
CANNOT_VARY = (
    "resampling identities cannot vary this rate (it rests on one identity or one pair of "
    "identities): no interval"
)
ONE_IDENTITY = "one identity: resampling identities cannot show the spread"


@dataclass(frozen=True)
class Interval:
    """An interval ``[low, high]`` (both None: none) and how it was made, or why not."""

    low: float | None
    high: float | None
    method: str | None
    note: str | None = None
    undefined_replicates: int = 0


def z_value(confidence: float) -> float:
    """The two-sided standard normal quantile of ``confidence`` (1.96 at 0.95)."""
    return NormalDist().inv_cdf(1.0 - (1.0 - confidence) / 2.0)


def clopper_pearson_upper(n: int, confidence: float) -> float:
    """Exact one-sided upper bound on a rate after 0 errors in ``n`` trials: ``1 − (1−c)^(1/n)``
    (≈ 3/n at 95 %, the rule of three)."""
    return 1.0 - (1.0 - confidence) ** (1.0 / n)


def t_value(confidence: float, df: float | None) -> float:
    """The two-sided Student-t quantile with ``df`` degrees of freedom (Cornish–Fisher
    expansion to the third order, within 1e-3 of the exact quantile from 5 df; the normal
    quantile when ``df`` is None)."""
    z = z_value(confidence)
    if df is None:
        return z
    df = max(float(df), 5.0)
    return (z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)
            + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * df**3))


def wilson(p: float, n: float, confidence: float, df: float | None = None) -> tuple[float, float]:
    """Wilson score interval of a proportion ``p`` observed over ``n`` (possibly fractional,
    effective) independent trials, with the Student-t quantile of ``df`` degrees of freedom
    (the normal one when None)."""
    z = t_value(confidence, df)
    z2n = z * z / n
    centre = (p + z2n / 2.0) / (1.0 + z2n)
    half = z / (1.0 + z2n) * math.sqrt(p * (1.0 - p) / n + z2n / (4.0 * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def effective_size(
    p: float, replicates: np.ndarray, identities: int | None, comparisons: int | None
) -> float | None:
    """``p (1 − p) / var`` with ``var`` the replicates' variance corrected by ``m / (m − 1)``
    for ``m`` identities; at most ``comparisons`` (clustering is not allowed to make a rate
    surer than independent comparisons would). None when the replicates do not vary."""
    reps = np.asarray(replicates, dtype=np.float64)
    reps = reps[np.isfinite(reps)]
    if reps.size < 2:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        var = float(np.var(reps, ddof=1))
    if not var > (1e-9 * p) ** 2:  # not varying beyond rounding (one pair of identities)
        return None
    if identities is not None and identities > 1:
        var *= identities / (identities - 1)
    n_eff = p * (1.0 - p) / var
    if comparisons:
        n_eff = min(n_eff, float(comparisons))
    return n_eff


def rate_interval(
    value: float,
    replicates: np.ndarray | None,
    *,
    errors: int | None,
    comparisons: int | None,
    identities: int | None,
    confidence: float,
) -> Interval:
    """The interval of one rate ``value`` = ``errors / comparisons`` (counts may be None for a
    rate that is not a plain proportion, e.g. an EER or an accuracy).

    - 0 errors (or only errors) among ``comparisons``: the exact one-sided Clopper–Pearson
      bound, whatever the replicates;
    - one identity, or replicates that never vary (one pair of identities): no interval;
    - otherwise the Wilson interval on :func:`effective_size` comparisons with the Student-t
      quantile of ``identities − 1`` degrees of freedom, its upper bound raised, where lower,
      to the log-scale reflection of the replicates' lower percentile ``p² / q_(α/2)`` (a small
      rate's estimate is skewed right: most samples hold few of the identities behind most
      errors, and then both the rate and its spread come out low).
    """
    undefined = 0
    if replicates is not None:
        undefined = int(np.isnan(np.asarray(replicates, dtype=np.float64)).sum())
    if comparisons and errors == 0:
        return Interval(0.0, clopper_pearson_upper(comparisons, confidence), CLOPPER_PEARSON,
                        undefined_replicates=undefined)
    if comparisons and errors == comparisons:
        return Interval(1.0 - clopper_pearson_upper(comparisons, confidence), 1.0,
                        CLOPPER_PEARSON, undefined_replicates=undefined)
    if replicates is None:
        return Interval(None, None, None)
    if identities is not None and identities < 2:
        return Interval(None, None, None, ONE_IDENTITY, undefined)
    if undefined == np.asarray(replicates).size:
        return Interval(None, None, None, undefined_replicates=undefined)
    n_eff = effective_size(value, replicates, identities, comparisons)
    if n_eff is None or not 0.0 < value < 1.0:
        return Interval(None, None, None, CANNOT_VARY, undefined)
    df = identities - 1 if identities is not None else None
    low, high = wilson(value, n_eff, confidence, df)
    reps = np.asarray(replicates, dtype=np.float64)
    q_low = float(np.nanpercentile(reps, 100 * (1.0 - confidence) / 2.0))
    if q_low > 0.0:
        high = min(1.0, max(high, value * value / q_low))
    return Interval(low, high, WILSON_EFFECTIVE, undefined_replicates=undefined)


def zero_eer_bound(
    impostor_comparisons: int, genuine_comparisons: int, confidence: float
) -> float:
    """Exact one-sided upper bound on an EER of 0 (no false match among the impostor and no
    false non-match among the genuine comparisons at the EER threshold): the mean of the two
    Clopper–Pearson bounds, each at ``1 − (1 − c) / 2`` (Bonferroni, so both hold together
    with probability ≥ ``c``)."""
    each = 1.0 - (1.0 - confidence) / 2.0
    return (clopper_pearson_upper(impostor_comparisons, each)
            + clopper_pearson_upper(genuine_comparisons, each)) / 2.0
