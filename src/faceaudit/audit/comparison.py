"""Models compared on the same data: differences of their rates and summaries, with a paired
identity bootstrap (arrays in, arrays out).

A *paired* bootstrap resamples the identities once per replicate and applies that one resample
to every model (:class:`PairedResamples` hands the same weights of
:func:`faceaudit.audit.bootstrap.draw_weights` to each model's analysis). The difference
between two models is then computed replicate by replicate, so the variation that both models
share — which identities happen to be in the sample — cancels, and what remains is the
uncertainty of the difference itself. Each model keeps its own threshold for a target FMR.
"""

from __future__ import annotations

import numpy as np

from faceaudit.audit.bootstrap import draw_weights, percentile_interval
from faceaudit.base.errors import InputDataError


class PairedResamples:
    """One draw of resampled identities shared by the analyses of several models.

    The first :meth:`weights` call draws ``(reps, U)`` weights for its units; every later call
    must name the same units (identities within groups, in the same order) and gets the same
    weights. :meth:`keep` collects each model's replicates (``EngineResult.replicates``) in the
    order the models were analysed.
    """

    def __init__(self, reps: int, seed: int) -> None:
        self.reps = reps
        self.seed = seed
        self.unit_group: np.ndarray | None = None
        self._weights: np.ndarray | None = None
        self.replicates: list[dict[tuple, np.ndarray]] = []

    def weights(self, unit_group: np.ndarray) -> np.ndarray | None:
        """The shared ``(reps, U)`` weights for these units (``None`` without a bootstrap)."""
        if self.reps < 1:
            return None
        unit_group = np.asarray(unit_group)
        if self._weights is None or self.unit_group is None:
            self.unit_group = unit_group.copy()
            self._weights = draw_weights(unit_group, self.reps, self.seed)
        elif not np.array_equal(unit_group, self.unit_group):
            raise InputDataError(
                "the models do not rest on the same identities in the same groups; "
                "a paired bootstrap needs the same"
            )
        return self._weights

    def keep(self, replicates: dict[tuple, np.ndarray]) -> None:
        """Record one model's replicates (call once per model, in model order)."""
        self.replicates.append(replicates)


def differences(
    values: np.ndarray,
    replicates: np.ndarray | None = None,
    confidence: float = 0.95,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each model's difference from model 0, with a paired percentile interval.

    ``values`` is ``(M,)``: one estimate per model (NaN where a model has none).
    ``replicates`` is ``(R, M)``: replicate ``r`` of every model computed on the *same*
    resampled identities; the interval is the percentile interval of
    ``replicates[:, m] - replicates[:, 0]`` over ``r`` (replicates where a difference is
    undefined are ignored; an infinite one stays infinite). Returns ``(diff, low, high)``,
    each ``(M - 1,)``; ``low``/``high`` are NaN without replicates.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1 or len(values) < 2:
        raise InputDataError("a comparison needs one value for each of at least two models")
    with np.errstate(invalid="ignore"):
        diff = values[1:] - values[0]
    if replicates is None:
        nan = np.full(len(values) - 1, np.nan)
        return diff, nan, nan.copy()
    replicates = np.asarray(replicates, dtype=np.float64)
    if replicates.ndim != 2 or replicates.shape[1] != len(values):
        raise InputDataError(
            f"replicates must be (reps, {len(values)}) for {len(values)} models, "
            f"not {replicates.shape}"
        )
    with np.errstate(invalid="ignore"):
        rep_diff = replicates[:, 1:] - replicates[:, :1]
    low, high = percentile_interval(rep_diff, confidence)
    return diff, np.atleast_1d(low), np.atleast_1d(high)


def excludes_zero(low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Whether each interval ``[low, high]`` lies entirely above or below 0 (False when an
    end is missing)."""
    low, high = np.asarray(low, dtype=np.float64), np.asarray(high, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return (low > 0) | (high < 0)
