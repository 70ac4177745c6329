"""The rules a bias gate judges by, written once: the comparison operators of a
``--fail-if`` rule, the max/min ratio of per-group rates, the rule of three, and the tolerance
within which two target FMRs are the same operating point.

Used by the audit's own gate (:mod:`faceaudit.audit.gate`), by :mod:`faceaudit.audit.metrics`
(the rule of three) and by the policy's recomputation of a report
(:mod:`faceaudit.policy.recompute`, :mod:`faceaudit.policy.identification`). Plain Python on
purpose: ``faceaudit policy`` judges reports without importing numpy. The array forms of the
summaries (every bootstrap replicate at once) are :mod:`faceaudit.audit.fairness`'s.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from typing import Any

from faceaudit.engine.rule_of_three import RULE_OF_THREE, rule_of_three

__all__ = ["OPERATORS", "RULE_OF_THREE", "fails", "max_min_ratio", "rule_of_three", "same_number"]

#: ``metric OP limit`` fails when ``OPERATORS[OP](value, limit)`` is true
OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}

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
