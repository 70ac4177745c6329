"""Verification error rates from score histograms: FMR, FNMR, thresholds, EER, DET curves.

Arrays in, arrays out. Histograms are counts per score bin (see
:mod:`faceaudit.audit.scoring`); a threshold is a bin index ``k`` and a comparison matches at
``k`` when its bin is ``>= k``. Curves are indexed by ``k = 0 … n_bins`` (``n_bins`` = nobody
matches).
"""

from __future__ import annotations

import numpy as np

from faceaudit.audit.gate_rules import rule_of_three
from faceaudit.base.errors import InputDataError


def _hist(hist: np.ndarray) -> np.ndarray:
    hist = np.asarray(hist)
    if hist.ndim != 1 or hist.size == 0:
        raise InputDataError("a score histogram must be a non-empty 1-D array of counts")
    if np.any(hist < 0):
        raise InputDataError("a score histogram cannot hold negative counts")
    return hist.astype(np.int64, copy=False)


def _target(target_fmr: float) -> float:
    if not 0.0 < float(target_fmr) < 1.0:
        raise InputDataError(f"a target FMR must lie strictly between 0 and 1, not {target_fmr}")
    return float(target_fmr)


def required_pairs(target_fmr: float) -> int:
    """Impostor comparisons needed to support ``target_fmr`` by the rule of three (3 / FMR;
    :func:`faceaudit.audit.gate_rules.rule_of_three`), refusing a target outside (0, 1)."""
    return rule_of_three(_target(target_fmr))


def supports(n_impostor_pairs: int, target_fmr: float) -> bool:
    """Whether ``n_impostor_pairs`` comparisons can support ``target_fmr`` (rule of three)."""
    return int(n_impostor_pairs) >= required_pairs(target_fmr)


def fmr_curve(impostor_hist: np.ndarray) -> np.ndarray:
    """FMR at every threshold bin ``k = 0 … n`` (NaN everywhere when there are no impostors)."""
    hist = _hist(impostor_hist)
    tail = np.r_[np.cumsum(hist[::-1])[::-1], 0]
    total = tail[0]
    with np.errstate(invalid="ignore", divide="ignore"):
        return tail / total if total else np.full(tail.shape, np.nan)


def fnmr_curve(genuine_hist: np.ndarray) -> np.ndarray:
    """FNMR at every threshold bin ``k = 0 … n`` (NaN everywhere when there are no genuines)."""
    hist = _hist(genuine_hist)
    head = np.r_[0, np.cumsum(hist)]
    total = head[-1]
    return head / total if total else np.full(head.shape, np.nan)


def threshold_for_fmr(impostor_hist: np.ndarray, target_fmr: float) -> int:
    """Lowest threshold bin whose FMR is at most ``target_fmr``.

    Does not check support; call :func:`supports` first.
    """
    hist = _hist(impostor_hist)
    target = _target(target_fmr)
    tail = np.r_[np.cumsum(hist[::-1])[::-1], 0]
    if tail[0] == 0:
        raise InputDataError("no impostor comparisons: a threshold cannot be set")
    return int(np.argmax(tail <= target * tail[0]))


def exact_thresholds(impostor_scores: np.ndarray, targets: list[float]) -> list[float]:
    """For each target, the threshold set on the impostor scores themselves (no bins).

    The threshold is the smallest impostor score ``τ`` with ``#(s >= τ) <= target · n``, so the
    achieved FMR is at most the target and the next lower impostor score would exceed it; ties
    are whole (every score equal to ``τ`` matches). When even the highest score is tied too
    often, ``τ`` is the next float above it (nothing matches). ``n`` must be positive.
    """
    s = np.asarray(impostor_scores, dtype=np.float64)
    n = s.size
    if n == 0:
        raise InputDataError("no impostor comparisons: a threshold cannot be set")
    allowed = [int(np.floor(_target(t) * n)) for t in targets]
    ranks = sorted({n - m - 1 for m in allowed})  # rank of the (m+1)-th largest score
    part = np.partition(s, ranks)
    out = []
    for m in allowed:
        x = part[n - m - 1]
        above = part[n - m :]  # every score above rank n-m-1 is >= x
        above = above[above > x]
        out.append(float(above.min()) if above.size else float(np.nextafter(x, np.inf)))
    return out


def eer(impostor_hist: np.ndarray, genuine_hist: np.ndarray) -> tuple[float, int]:
    """Equal error rate and its threshold bin (FVC2000 rule, as pyeer).

    At the first threshold where FMR ≤ FNMR, or the one before it, whichever has the lower
    FMR + FNMR, the EER is (FMR + FNMR) / 2.
    """
    fmr, fnmr = fmr_curve(impostor_hist), fnmr_curve(genuine_hist)
    if np.isnan(fmr[0]) or np.isnan(fnmr[0]):
        return float("nan"), -1
    t2 = int(np.argmax(fmr - fnmr <= 0))
    t1 = t2 - 1 if fmr[t2] != fnmr[t2] and t2 > 0 else t2
    k = t1 if fmr[t1] + fnmr[t1] <= fmr[t2] + fnmr[t2] else t2
    return float((fmr[k] + fnmr[k]) / 2), k


def det_points(
    impostor_hist: np.ndarray, genuine_hist: np.ndarray, max_points: int = 200
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A DET curve thinned to at most ``max_points`` points spaced evenly in log10(FMR).

    Returns ``(threshold_bins, fmr, fnmr)`` sorted by increasing FMR; points with FMR = 0 are
    dropped (they cannot be drawn on a log axis).
    """
    fmr, fnmr = fmr_curve(impostor_hist), fnmr_curve(genuine_hist)
    k = np.flatnonzero(fmr > 0)
    if k.size == 0 or np.isnan(fnmr[0]):
        return np.empty(0, np.intp), np.empty(0), np.empty(0)
    k = k[::-1]  # increasing FMR
    logs = np.log10(fmr[k])
    wanted = np.linspace(logs[0], logs[-1], max_points)
    pick = np.unique(np.clip(np.searchsorted(logs, wanted), 0, len(k) - 1))
    ks = k[pick]
    return ks, fmr[ks], fnmr[ks]


def error_rates(
    genuine_scores: np.ndarray, impostor_scores: np.ndarray, threshold: float
) -> tuple[float, float]:
    """FMR and FNMR of raw score arrays at ``threshold`` (match when ``score >= threshold``)."""
    gen = np.asarray(genuine_scores, dtype=np.float64)
    imp = np.asarray(impostor_scores, dtype=np.float64)
    if gen.size == 0 or imp.size == 0:
        raise InputDataError("need at least one genuine and one impostor score")
    return float(np.mean(imp >= threshold)), float(np.mean(gen < threshold))
