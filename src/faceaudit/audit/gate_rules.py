"""The rules a bias gate judges by, written once: the comparison operators of a
``--fail-if`` rule, the max/min ratio of per-group rates and its interval, the three-way
verdict on an interval (pass / fail / inconclusive) and when a sample is too small to judge
(insufficient), the rule of three, and the tolerance within which two target FMRs are the same
operating point.

Used by the audit's own gate (:mod:`faceaudit.audit.gate`), by :mod:`faceaudit.audit.metrics`
(the rule of three) and by the policy's recomputation of a report
(:mod:`faceaudit.policy.recompute`, :mod:`faceaudit.policy.identification`). Plain Python on
purpose: ``faceaudit policy`` judges reports without importing numpy. The array forms of the
summaries (every bootstrap replicate at once) are :mod:`faceaudit.audit.fairness`'s.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from faceaudit.engine.rule_of_three import RULE_OF_THREE, rule_of_three

__all__ = [
    "FAIL",
    "INCONCLUSIVE",
    "INSUFFICIENT",
    "MIN_IDENTITIES",
    "OPERATORS",
    "PASS",
    "RULE_OF_THREE",
    "UNEVALUABLE",
    "fails",
    "insufficiency",
    "interval_verdict",
    "max_geomean_interval",
    "max_geomean_ratio",
    "max_min_ratio",
    "ratio_interval",
    "rule_of_three",
    "same_number",
]

#: ``metric OP limit`` fails when ``OPERATORS[OP](value, limit)`` is true
OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}

#: the verdicts of one rule: the whole interval within the limit, the whole interval beyond it,
#: an interval across it, a sample too small to judge, a summary that cannot be computed
PASS, FAIL, INCONCLUSIVE, INSUFFICIENT, UNEVALUABLE = (
    "pass", "fail", "inconclusive", "insufficient", "unevaluable")

#: fewest identities behind a rate the gate judges (ISO/IEC 19795-1's guidance on test crews)
MIN_IDENTITIES = 30

#: two target FMRs (or thresholds) within this relative tolerance are the same operating point
SAME_NUMBER_REL_TOL = 1e-9


def fails(op: str, value: float, limit: float) -> bool:
    """Whether ``value op limit`` holds, i.e. the rule ``metric op limit`` fails the gate."""
    return OPERATORS[op](value, limit)


def max_min_ratio(values: Sequence[float]) -> float | None:
    """max / min of per-group rates: None for fewer than two groups or when all are 0, ``inf``
    when only the minimum is 0 (:func:`faceaudit.audit.fairness.max_min_ratio` over arrays)."""
    if len(values) < 2:
        return None
    high, low = max(values), min(values)
    if low == 0.0:
        return math.inf if high > 0 else None
    return high / low


def same_number(a: Any, b: float | None) -> bool:
    """Whether ``a`` (a value read from a report: a target FMR, a threshold) is the number
    ``b`` within a relative :data:`SAME_NUMBER_REL_TOL`; a bool or a string never is, and None
    is only None (a rates table read without a target FMR)."""
    if a is None or b is None:
        return a is None and b is None
    return (isinstance(a, int | float) and not isinstance(a, bool)
            and math.isclose(a, b, rel_tol=SAME_NUMBER_REL_TOL))


def _pair_interval(a: tuple[float, float, float], b: tuple[float, float, float]
                   ) -> tuple[float, float]:
    """Interval of ``p_a / p_b`` from each rate's ``(value, low, high)``: MOVER on the log
    scale (Newcombe's method of variance estimates recovery, groups independent); the ratio
    of the bounds where a value or a lower bound is 0 (the log is not defined there)."""
    (pa, la, ua), (pb, lb, ub) = a, b
    if min(pa, pb, la, lb) <= 0.0:
        low = la / ub if ub > 0 else math.inf
        high = ua / lb if lb > 0 else math.inf
        return low, high
    d = math.log(pa) - math.log(pb)
    low = d - math.hypot(math.log(pa) - math.log(la), math.log(ub) - math.log(pb))
    high = d + math.hypot(math.log(ua) - math.log(pa), math.log(pb) - math.log(lb))
    return math.exp(low), math.exp(high)


def _with_intervals(rates: Sequence[tuple[float, float | None, float | None]]
                    ) -> list[tuple[float, float, float]] | None:
    """The ``(value, low, high)`` rates when there are at least two and each has an interval;
    else None (the ratio intervals are undefined then)."""
    if len(rates) < 2 or any(low is None or high is None for _, low, high in rates):
        return None
    return [(value, float(low), float(high)) for value, low, high in rates
            if low is not None and high is not None]


def ratio_interval(
    rates: Sequence[tuple[float, float | None, float | None]],
) -> tuple[float, float] | None:
    """Interval of the max/min ratio of per-group rates, each given as ``(value, low, high)``.

    The true max/min is the largest ratio ``p_a / p_b`` over ordered pairs of groups, so its
    interval is ``[max_ab L_ab, max_ab U_ab]`` with ``[L_ab, U_ab]`` the log-scale MOVER
    interval of ``p_a / p_b`` (:func:`_pair_interval`). It is not bounded below by 1 nor by the
    estimate: two groups with the same rate get an interval around 1. None with fewer than two
    groups or when a group's rate has no interval.
    """
    full = _with_intervals(rates)
    if full is None:
        return None
    pairs = [_pair_interval(a, b) for i, a in enumerate(full) for j, b in enumerate(full)
             if i != j]
    return max(p[0] for p in pairs), max(p[1] for p in pairs)


def interval_verdict(op: str, low: float, high: float, limit: float) -> str:
    """The verdict of the rule ``metric op limit`` (which *fails* when it holds) on the
    interval ``[low, high]``: :data:`FAIL` when it holds for every value of the interval,
    :data:`PASS` when for none, :data:`INCONCLUSIVE` otherwise."""
    worst, best = (low, high) if op in (">", ">=") else (high, low)
    if fails(op, worst, limit):
        return FAIL
    if not fails(op, best, limit):
        return PASS
    return INCONCLUSIVE


def insufficiency(
    rates: Sequence[tuple[str, Mapping[str, Any]]], min_identities: int
) -> str | None:
    """Why the per-group rate estimates behind a rule (``(label, estimate)`` pairs, e.g.
    ``("FMR of 'male'", {...})``) are too few to judge, or None when they suffice: a rate
    without an interval (no identities in the input, no bootstrap, one identity or one pair of
    identities), or one resting on fewer than ``min_identities`` identities."""
    few = []
    for label, est in rates:
        if est.get("value") is None:
            continue
        if est.get("low") is None or est.get("high") is None:
            why = est.get("interval_note") or "no interval (no identities or no bootstrap)"
            return f"{label} has no interval: {why}"
        n = est.get("identities")
        if isinstance(n, int) and not isinstance(n, bool) and n < min_identities:
            few.append(f"{label} ({n} identities)")
    if few:
        return (f"rests on fewer than {min_identities} identities: {', '.join(few)}")
    return None


def max_geomean_ratio(values: Sequence[float]) -> float | None:
    """max / geometric mean of per-group rates (NIST IR 8429): None for fewer than two groups
    or when all are 0, ``inf`` when some but not all are 0
    (:func:`faceaudit.audit.fairness.max_geomean_ratio` over arrays)."""
    if len(values) < 2:
        return None
    high = max(values)
    if min(values) == 0.0:
        return math.inf if high > 0 else None
    return high / math.exp(sum(math.log(v) for v in values) / len(values))


def _bound_log(weights: list[float], full: list[tuple[float, float, float]], lower: bool
               ) -> float:
    """``Σ w_g ln x_g`` with each ``x_g`` the bound that makes the sum lowest (``lower``) or
    highest: the worst case of every term, where a bound of 0 makes the log infinite."""
    total = 0.0
    for w, (_, lo, hi) in zip(weights, full, strict=True):
        x = lo if (w > 0) == lower else hi
        total += w * (math.log(x) if x > 0.0 else -math.inf)
    return total


def max_geomean_interval(
    rates: Sequence[tuple[float, float | None, float | None]],
) -> tuple[float, float] | None:
    """Interval of the max / geometric-mean ratio of per-group rates ``(value, low, high)``.

    For the worst group ``a``, ``ln(p_a / geomean) = (1 − 1/G) ln p_a − (1/G) Σ_{g≠a} ln p_g``,
    a linear combination of independent log rates: its MOVER interval adds each term's
    distance to its own bound in quadrature (the lower bound of a term with a positive weight,
    the upper of one with a negative weight, and the other way round above). The true ratio
    is the largest over ``a``, so the interval is ``[max_a L_a, max_a U_a]``. Where a rate or a
    lower bound is 0 the bounds are combined directly (the worst case of each term). None with
    fewer than two groups or when a group's rate has no interval.
    """
    full = _with_intervals(rates)
    if full is None:
        return None
    G = len(full)
    bounds = []
    for a in range(G):
        weights = [(1 - 1 / G) if g == a else -1 / G for g in range(G)]
        if min(min(v, lo) for v, lo, _ in full) <= 0.0:
            low_log = _bound_log(weights, full, lower=True)
            high_log = _bound_log(weights, full, lower=False)
        else:
            est = sum(w * math.log(v) for w, (v, _, _) in zip(weights, full, strict=True))
            down = up = 0.0
            for w, (v, lo, hi) in zip(weights, full, strict=True):
                below, above = math.log(v) - math.log(lo), math.log(hi) - math.log(v)
                down += (w * (below if w > 0 else above)) ** 2
                up += (w * (above if w > 0 else below)) ** 2
            low_log, high_log = est - math.sqrt(down), est + math.sqrt(up)
        bounds.append((math.exp(low_log) if low_log > -math.inf else 0.0,
                       math.exp(high_log) if high_log < math.inf else math.inf))
    return max(b[0] for b in bounds), max(b[1] for b in bounds)
