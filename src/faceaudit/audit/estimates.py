"""Estimate objects of the report: a value, its interval, and what the interval rests on.

Presenting, not computing: these functions turn numbers (a rate, its error and comparison
counts, its bootstrap replicates, the identities behind it) into the ``{"value", "low", "high",
…}`` objects of ``report.json`` (docs/report-schema.md), with the small-sample rules of
docs/metrics.md: an exact one-sided Clopper–Pearson bound when no error (or only errors) was
seen, no interval where resampling identities cannot vary the rate, a flag below
``min_identities`` identities, and a count of bootstrap replicates that came out undefined.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from faceaudit.audit.gate_rules import max_geomean_interval, ratio_interval
from faceaudit.audit.intervals import rate_interval

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
    ``undefined_replicates`` and ``interval`` — how the interval was made
    (:func:`faceaudit.audit.intervals.rate_interval`): ``"wilson-effective-n"``,
    ``"clopper-pearson"`` (0 errors, or only errors: an exact one-sided bound over the
    comparisons) or ``null`` with ``interval_note`` saying why there is none.
    """
    out = estimate(value, None, None, note)
    out.update(
        errors=errors,
        comparisons=comparisons,
        identities=identities,
        small_sample=identities is not None and identities < min_identities,
        undefined_replicates=0,
        interval=None,
    )
    if out["value"] is None:
        return out
    got = rate_interval(float(out["value"]), replicates, errors=errors, comparisons=comparisons,
                        identities=identities, confidence=confidence)
    out.update(low=got.low, high=got.high, interval=got.method,
               undefined_replicates=got.undefined_replicates)
    if got.note:
        out["interval_note"] = got.note
    return out


#: how a max/min ratio's interval is made (``interval`` of a summary estimate)
RATIO_INTERVAL = "mover-log"


Bounds = Callable[[Sequence[tuple[float, float | None, float | None]]],
                  tuple[float, float] | None]


def interval_of_ratio(key: str) -> Bounds:
    """The interval function of a ratio summary: max / geometric mean
    (:func:`~faceaudit.audit.gate_rules.max_geomean_interval`) or max/min
    (:func:`~faceaudit.audit.gate_rules.ratio_interval`)."""
    return max_geomean_interval if key.endswith("_max_geomean") else ratio_interval


def with_ratio_interval(entry: dict, rates: list[dict], interval: Bounds = ratio_interval
                        ) -> dict:
    """``entry`` (a max/min or max/geomean ratio summary) with its interval recomputed from the
    per-group rate estimates ``rates`` it is over (``interval``, on the log scale); no
    interval, with ``interval_note``, when a group's rate has none."""
    entry = dict(entry)
    entry["interval"] = None
    if entry.get("value") is None and "infinite" not in (entry.get("note") or ""):
        return entry
    got = interval([(r["value"], r["low"], r["high"]) for r in rates
                    if r.get("value") is not None])
    if got is None or len(rates) < 2:
        entry["low"] = entry["high"] = None
        entry["interval_note"] = "a group's rate has no interval, so the ratio has none"
        return entry
    entry["low"], entry["high"] = clean(got[0]), clean(got[1])
    entry["interval"] = RATIO_INTERVAL
    return entry
