"""The rule of three, written once: with zero errors in ``n`` trials, the 95 % upper bound on
the error rate is about ``3 / n`` — so an FMR of ``t`` needs at least ``3 / t`` impostor
comparisons behind it, and ``n`` comparisons support no FMR below ``3 / n``.

Plain Python (no numpy): the policy judges reports with it without loading the engine's arrays.
Used by :class:`faceaudit.engine.calibration.Calibration` (the lowest FMR a calibration supports)
and by the gate rules (:mod:`faceaudit.audit.gate_rules`).
"""

from __future__ import annotations

import math

#: an FMR of ``t`` is supported by at least ``RULE_OF_THREE / t`` impostor comparisons
RULE_OF_THREE = 3.0


def rule_of_three(target_fmr: float) -> int:
    """Impostor comparisons needed to support ``target_fmr``: ``ceil(3 / target_fmr)``.

    Unchecked; :func:`faceaudit.audit.metrics.required_pairs` refuses a target outside (0, 1).
    """
    return math.ceil(RULE_OF_THREE / target_fmr - 1e-9)


def lowest_supported_fmr(n_impostor: int) -> float:
    """The smallest FMR ``n_impostor`` impostor comparisons can support: ``3 / n_impostor``."""
    return RULE_OF_THREE / n_impostor
