"""The audit engine: from a :class:`ScoreSet` (or a rates table) to the report's result sections.

Produces the ``groups``, ``targets``, ``per_group``, ``det``, ``histograms`` and pair counts of
``report.json`` (schema in docs/report-schema.md), with identity-bootstrap intervals: the
numbers from :mod:`faceaudit.audit.rates`, their presentation from
:mod:`faceaudit.audit.sections`. :class:`AuditSettings` lives in
:mod:`faceaudit.audit.settings` and is re-exported here, as are the summary helpers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from faceaudit.audit import fairness, metrics
from faceaudit.audit.estimates import estimate
from faceaudit.audit.rates import named_replicates, score_rates
from faceaudit.audit.scoring import ScoreSet
from faceaudit.audit.sections import missing_summaries, score_sections, summary_estimates
from faceaudit.audit.settings import AuditSettings

__all__ = [
    "AuditSettings",
    "EngineResult",
    "analyse_rates",
    "analyse_scores",
    "missing_summaries",
    "summary_estimates",
]


@dataclass
class EngineResult:
    """The result sections of the report plus its warnings.

    ``replicates`` holds the bootstrap replicates ``(reps,)`` behind the estimates of each
    supported target: ``(target_fmr, "fmr" | "fnmr" | "accuracy", group)`` and
    ``(target_fmr, "summary", key)`` (empty without a bootstrap). Drawn with the same
    ``weights`` for two models, they are paired (:mod:`faceaudit.audit.comparison`).
    """

    sections: dict
    warnings: list[str] = field(default_factory=list)
    replicates: dict[tuple, np.ndarray] = field(default_factory=dict)


def analyse_scores(
    scores: ScoreSet, settings: AuditSettings, weights: np.ndarray | None = None
) -> EngineResult:
    """Thresholds, per-group and cross-group rates, summaries, EER, DET, histograms, intervals.

    Computes (:func:`faceaudit.audit.rates.score_rates`), then presents
    (:func:`faceaudit.audit.sections.score_sections`). ``weights`` (``(settings.reps, U)``
    over ``scores.unit_group``, see :func:`~faceaudit.audit.bootstrap.draw_weights`) fixes the
    resampled identities instead of drawing them from ``settings.seed``.
    """
    rates = score_rates(scores, settings, weights)
    sections, warnings = score_sections(rates, settings)
    return EngineResult(sections, warnings, named_replicates(rates))


def analyse_rates(
    groups: Sequence[str],
    fmr: np.ndarray | None,
    fnmr: np.ndarray | None,
    accuracy: np.ndarray | None,
    settings: AuditSettings,
    target_fmr: float | None = None,
) -> dict:
    """One ``targets`` entry from given per-group rates (no intervals: no identities)."""
    G = len(groups)
    summ = fairness.summaries(fmr, fnmr, accuracy, settings.alpha)
    acc = accuracy
    if acc is None and fmr is not None and fnmr is not None:
        acc = 1 - (np.asarray(fmr) + np.asarray(fnmr)) / 2
        summ.update(fairness.summaries(None, None, acc, settings.alpha))
    rows = []
    for g in range(G):
        rows.append(
            {
                "group": groups[g],
                "supported": True,
                "fmr": estimate(None if fmr is None else fmr[g], note="not in the rates table"),
                "fnmr": estimate(None if fnmr is None else fnmr[g], note="not in the rates table"),
                "accuracy": estimate(
                    None if acc is None else acc[g], note="not in the rates table"
                ),
                "group_threshold": None,
                "fnmr_at_group_threshold": None,
                "impostor_pairs": None,
                "genuine_pairs": None,
            }
        )
    return {
        "target_fmr": target_fmr,
        "threshold": None,
        "supported": True,
        "required_pairs": metrics.required_pairs(target_fmr) if target_fmr else None,
        "achieved_fmr": None,
        "groups": rows,
        "cross_fmr": None,
        "summaries": summary_estimates(summ, None, settings.confidence),
    }
