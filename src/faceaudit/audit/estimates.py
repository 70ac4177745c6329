"""Estimate objects of the report: a value, its interval, and what the interval rests on.

Presenting, not computing: these functions turn numbers (a rate, its error and comparison
counts, its bootstrap replicates, the identities behind it) into the ``{"value", "low", "high",
…}`` objects of ``report.json`` (docs/report-schema.md), with the small-sample rules of
docs/metrics.md: an exact one-sided Clopper–Pearson bound when no error (or only errors) was
seen, no interval from a single identity, a flag below ``min_identities`` identities, and a
count of bootstrap replicates that came out undefined.
"""

from __future__ import annotations

import math

import numpy as np

from faceaudit.audit.bootstrap import percentile_interval

MIN_IDENTITIES = 30  # ISO/IEC 19795-1's guidance on the number of test subjects


def clean(value: float | None) -> float | None:
    """A float for JSON: ``None`` for NaN/inf/None."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def estimate(value: float | None, low=None, high=None, note: str | None = None) -> dict:
    """An estimate object ``{"value", "low", "high"}`` (+ ``note`` when the value is missing)."""
    out: dict[str, float | str | None] = {"value": clean(value), "low": clean(low),
                                          "high": clean(high)}
    if out["value"] is None:
        out["note"] = note or "not defined for these data"
        out["low"] = out["high"] = None
    return out


def clopper_pearson_upper(n: int, confidence: float) -> float:
    """Exact one-sided upper bound on a rate after 0 errors in ``n`` trials: ``1 − (1−c)^(1/n)``
    (≈ 3/n at 95 %, the rule of three)."""
    return 1.0 - (1.0 - confidence) ** (1.0 / n)


def replicate_interval(
    replicates: np.ndarray | None, confidence: float
) -> tuple[float | None, float | None, int]:
    """Percentile interval of one rate's replicates and how many replicates were undefined."""
    if replicates is None:
        return None, None, 0
    reps = np.asarray(replicates, dtype=np.float64)
    undefined = int(np.isnan(reps).sum())
    if undefined == reps.size:
        return None, None, undefined
    low, high = percentile_interval(reps, confidence)
    return float(low), float(high), undefined


def rate_estimate(
    value: float | None,
    replicates: np.ndarray | None,
    *,
    errors: int | None,
    comparisons: int | None,
    identities: int | None,
    confidence: float,
    min_identities: int,
    note: str,
) -> dict:
    """A per-group rate: value, interval, and the sample it rests on.

    Adds ``errors``, ``comparisons``, ``identities`` (distinct identities behind the rate,
    ``null`` when the input names none), ``small_sample`` (fewer than ``min_identities``),
    ``undefined_replicates`` and ``interval`` — ``"identity-bootstrap"``,
    ``"clopper-pearson"`` (0 errors, or only errors: an exact one-sided bound over the
    comparisons) or ``null`` with ``interval_note`` saying why there is none.
    """
    low, high, undefined = replicate_interval(replicates, confidence)
    out = estimate(value, low, high, note)
    out.update(
        errors=errors,
        comparisons=comparisons,
        identities=identities,
        small_sample=identities is not None and identities < min_identities,
        undefined_replicates=undefined,
        interval=None,
    )
    if out["value"] is None:
        return out
    if out["low"] is not None:
        out["interval"] = "identity-bootstrap"
    if identities is not None and identities < 2 and out["low"] is not None:
        out["low"] = out["high"] = None
        out["interval"] = None
        out["interval_note"] = "one identity: resampling identities cannot show the spread"
    if comparisons and errors == 0:
        out["low"], out["high"] = 0.0, clopper_pearson_upper(comparisons, confidence)
        out["interval"] = "clopper-pearson"
    elif comparisons and errors == comparisons:
        out["low"], out["high"] = 1.0 - clopper_pearson_upper(comparisons, confidence), 1.0
        out["interval"] = "clopper-pearson"
    return out
