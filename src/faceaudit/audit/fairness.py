"""Fairness summaries of per-group error rates (groups on the last axis, any leading axes).

Every function takes arrays shaped ``(..., n_groups)`` and returns ``(...)``, so the same code
summarises the point estimates and every bootstrap replicate at once. Undefined values (a zero
denominator) come back as ``inf`` or ``nan``, never as an exception; the report turns them into
``null`` with a note. See docs/metrics.md for formulas and references.
"""

from __future__ import annotations

import numpy as np

from faceaudit.base.errors import InputDataError

SUMMARY_KEYS = (
    "fmr_ratio",
    "fnmr_ratio",
    "fmr_difference",
    "fnmr_difference",
    "inequity",
    "fdr",
    "garbe",
    "ser",
    "std",
    "fmr_max_geomean",
    "fnmr_max_geomean",
)

# The same summaries over 1:N rates (FPIR in place of FMR, FNIR in place of FNMR), as the
# identification section of report.json names them.
IDENTIFICATION_SUMMARY_KEYS = (
    "fpir_ratio",
    "fnir_ratio",
    "fpir_difference",
    "fnir_difference",
    "inequity",
    "fdr",
    "garbe",
    "fpir_max_geomean",
    "fnir_max_geomean",
)

#: the PAD audit's summaries (ISO/IEC 30107-3 rates, docs/metrics.md "PAD audit"): max/min,
#: max/geometric mean and max − min over groups of BPCER, APCER (each group's worst species)
#: and IAPMR, as the ``pad`` section of report.json names them
PAD_RATES = ("bpcer", "apcer", "iapmr")
PAD_SUFFIXES = ("ratio", "max_geomean", "difference")
PAD_SUMMARY_KEYS = tuple(f"{rate}_{suffix}" for rate in PAD_RATES for suffix in PAD_SUFFIXES)

#: each identification summary's name in :data:`SUMMARY_KEYS` (computed with FPIR in place of
#: FMR, FNIR in place of FNMR)
IDENTIFICATION_NAMES = {
    "fmr_ratio": "fpir_ratio",
    "fnmr_ratio": "fnir_ratio",
    "fmr_difference": "fpir_difference",
    "fnmr_difference": "fnir_difference",
    "inequity": "inequity",
    "fdr": "fdr",
    "garbe": "garbe",
    "fmr_max_geomean": "fpir_max_geomean",
    "fnmr_max_geomean": "fnir_max_geomean",
}


def _groups(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 0 or values.shape[-1] < 2:
        raise InputDataError("fairness summaries need at least two groups")
    return values


def _alpha(alpha: float) -> float:
    if not 0.0 <= alpha <= 1.0:
        raise InputDataError(f"alpha must lie in [0, 1], not {alpha}")
    return float(alpha)


def max_min_ratio(values: np.ndarray) -> np.ndarray:
    """max / min over groups (``inf`` when the minimum is 0, ``nan`` when all are 0)."""
    v = _groups(values)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.max(v, axis=-1) / np.min(v, axis=-1)


def max_geomean_ratio(values: np.ndarray) -> np.ndarray:
    """max / geometric mean over groups (NIST IR 8429's demographic differential: the worst
    group against a typical one); ``inf`` when a group's value is 0 and another's is not,
    ``nan`` when all are 0."""
    v = _groups(values)
    with np.errstate(divide="ignore", invalid="ignore"):
        geomean = np.exp(np.mean(np.log(v), axis=-1))
        return np.max(v, axis=-1) / geomean


def max_min_difference(values: np.ndarray) -> np.ndarray:
    """max − min over groups."""
    v = _groups(values)
    return np.max(v, axis=-1) - np.min(v, axis=-1)


def inequity_rate(fmr: np.ndarray, fnmr: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """``fmr_ratio ** alpha * fnmr_ratio ** (1 - alpha)``."""
    a = _alpha(alpha)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return max_min_ratio(fmr) ** a * max_min_ratio(fnmr) ** (1 - a)


def fairness_discrepancy_rate(fmr: np.ndarray, fnmr: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """FDR = 1 − (α·max|ΔFMR| + (1 − α)·max|ΔFNMR|) (de Freitas Pereira & Marcel 2021)."""
    a = _alpha(alpha)
    return 1.0 - (a * max_min_difference(fmr) + (1 - a) * max_min_difference(fnmr))


def gini(values: np.ndarray) -> np.ndarray:
    """Gini coefficient with the n/(n−1) small-sample correction (Howard et al. 2022)."""
    v = _groups(values)
    n = v.shape[-1]
    diffs = np.abs(v[..., :, None] - v[..., None, :]).sum(axis=(-1, -2))
    with np.errstate(divide="ignore", invalid="ignore"):
        return n / (n - 1) * diffs / (2 * n * n * np.mean(v, axis=-1))


def garbe(fmr: np.ndarray, fnmr: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """GARBE = α·Gini(FMR) + (1 − α)·Gini(FNMR) (Howard et al. 2022)."""
    a = _alpha(alpha)
    return a * gini(fmr) + (1 - a) * gini(fnmr)


def skewed_error_ratio(accuracy: np.ndarray) -> np.ndarray:
    """SER = max error / min error, error = 1 − accuracy (Wang et al. 2019, RFW)."""
    return max_min_ratio(1.0 - _groups(accuracy))


def accuracy_std(accuracy: np.ndarray) -> np.ndarray:
    """Population standard deviation of per-group accuracy, in percentage points (RFW)."""
    return 100.0 * np.std(_groups(accuracy), axis=-1)


def summaries(
    fmr: np.ndarray | None,
    fnmr: np.ndarray | None,
    accuracy: np.ndarray | None,
    alpha: float = 0.5,
) -> dict[str, np.ndarray]:
    """All summaries that the given per-group rates allow, keyed as :data:`SUMMARY_KEYS`.

    ``fmr``/``fnmr``/``accuracy`` are ``(..., n_groups)`` or ``None`` when not available.
    """
    out: dict[str, np.ndarray] = {}
    if fmr is not None:
        out["fmr_ratio"] = max_min_ratio(fmr)
        out["fmr_difference"] = max_min_difference(fmr)
        out["fmr_max_geomean"] = max_geomean_ratio(fmr)
    if fnmr is not None:
        out["fnmr_ratio"] = max_min_ratio(fnmr)
        out["fnmr_difference"] = max_min_difference(fnmr)
        out["fnmr_max_geomean"] = max_geomean_ratio(fnmr)
    if fmr is not None and fnmr is not None:
        out["inequity"] = inequity_rate(fmr, fnmr, alpha)
        out["fdr"] = fairness_discrepancy_rate(fmr, fnmr, alpha)
        out["garbe"] = garbe(fmr, fnmr, alpha)
    if accuracy is not None:
        out["ser"] = skewed_error_ratio(accuracy)
        out["std"] = accuracy_std(accuracy)
    return out
