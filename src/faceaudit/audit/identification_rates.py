"""The 1:N identification audit's rates, computed from the per-unit counts of
:func:`faceaudit.audit.identification.run_identification`.

Rates are pooled over the repeated splits (errors / searches) per probe group; replicates
resample identities within each probe group (:func:`faceaudit.audit.bootstrap.bootstrap_rates`).
Arrays in, arrays out: :mod:`faceaudit.audit.identification_report` presents the result.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from faceaudit.audit import fairness
from faceaudit.audit.bootstrap import bootstrap_rates
from faceaudit.audit.identification import IdentificationCounts, predicted_fpir

# bootstrap columns per threshold: fpir, fnir, rank-1 hits, 1:1 fmr, then one per candidate
# group (the composition), then one per measured gallery size
FPIR, FNIR, RANK1, FMR, CROSS = range(5)


@dataclass(frozen=True)
class PooledRate:
    """One rate per probe group, pooled over its units: ``errors / trials``."""

    errors: np.ndarray  # (G,)
    trials: np.ndarray  # (G,)
    identities: np.ndarray  # (G,) units (identities) with at least one trial
    replicates: np.ndarray | None  # (R, G); None without a bootstrap

    @property
    def value(self) -> np.ndarray:
        """``(G,)`` errors / trials (NaN without trials)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.trials > 0, self.errors / np.maximum(self.trials, 1), np.nan)


@dataclass(frozen=True)
class Composition:
    """Probe group × candidate group at one threshold."""

    false_candidates: np.ndarray  # (G, G) innocent candidates returned
    searches: np.ndarray  # (G,) non-mated searches per probe group
    per_search: np.ndarray  # (G, G) false candidates per non-mated search
    fpir: np.ndarray  # (G, G) share of searches returning ≥ 1 candidate of that group
    replicates: np.ndarray | None  # (R, G, G) of ``fpir``


@dataclass(frozen=True)
class SizeRates:
    """FPIR at one gallery size: measured where the data allow, predicted from the 1:1 FMR."""

    size: int
    audited: bool  # the audited gallery size (its FPIR is the operating point's)
    measured: PooledRate | None  # a subsampled gallery; None at the audited size or beyond
    predicted: list[float | None]  # per group; None without a 1:1 FMR


@dataclass(frozen=True)
class PointRates:
    """Every rate at one threshold."""

    fpir: PooledRate
    fnir: PooledRate
    rank1_hit_rate: PooledRate
    fmr: PooledRate
    summary_groups: list[int]  # groups with both FPIR and FNIR
    summaries: dict[str, np.ndarray] | None  # 1:1 summary keys; None under two groups
    summary_replicates: dict[str, np.ndarray] | None
    composition: Composition
    sizes: list[SizeRates]


@dataclass(frozen=True)
class IdentificationRates:
    """Everything :func:`identification_rates` computes."""

    counts: IdentificationCounts
    identities: int  # distinct identities searched
    points: list[PointRates]


def per_group(values: np.ndarray, unit_group: np.ndarray, G: int) -> np.ndarray:
    """Sum unit values ``(..., U)`` per group → ``(..., G)``."""
    onehot = (unit_group[:, None] == np.arange(G)[None, :]).astype(np.float64)
    return np.asarray(values, dtype=np.float64) @ onehot


def _ratio(errors: np.ndarray, total: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total > 0, errors / np.maximum(total, 1), np.nan)


def bootstrap_matrix(counts: IdentificationCounts, reps: int, seed: int) -> np.ndarray | None:
    """Replicates ``(reps, T, 4 + G + S, G)`` of every pooled rate (columns as :data:`FPIR`
    … :data:`CROSS`), probe groups on the last axis; ``None`` for ``reps == 0``."""
    if not reps:
        return None
    G, T, S = len(counts.groups), len(counts.thresholds), len(counts.sizes)
    ug = counts.unit_group
    err_cols, tot_cols = [], []
    for t in range(T):
        err_cols += [counts.false_positive[t], counts.miss[t], counts.rank1_hit[t],
                     counts.impostor_hits[t]]
        tot_cols += [counts.non_mated, counts.mated, counts.mated, counts.impostor_comparisons]
        err_cols += [counts.cross_positive[t, :, g] for g in range(G)]
        tot_cols += [counts.non_mated] * G
        err_cols += [counts.size_false_positive[s, t] for s in range(S)]
        tot_cols += [counts.non_mated] * S
    member = (ug[:, None] == np.arange(G)[None, :]).astype(np.float64)  # (U, G)
    errors = np.stack(err_cols, axis=1)[:, :, None] * member[:, None, :]
    totals = np.stack(tot_cols, axis=1)[:, :, None] * member[:, None, :]
    return bootstrap_rates(
        ug, errors.reshape(len(ug), -1), totals.reshape(len(ug), -1), reps, seed
    ).reshape(reps, T, 4 + G + S, G)


def pooled(
    counts: IdentificationCounts,
    errors: np.ndarray,
    trials: np.ndarray,
    replicates: np.ndarray | None,
) -> PooledRate:
    """Pool unit ``errors`` over ``trials`` (both ``(U,)``) per probe group."""
    ug, G = counts.unit_group, len(counts.groups)
    return PooledRate(
        errors=np.array([int(errors[ug == g].sum()) for g in range(G)], dtype=np.int64),
        trials=np.array([int(trials[ug == g].sum()) for g in range(G)], dtype=np.int64),
        identities=np.array([int(((ug == g) & (trials > 0)).sum()) for g in range(G)],
                            dtype=np.int64),
        replicates=replicates,
    )


def composition(counts: IdentificationCounts, t: int, rep: np.ndarray | None) -> Composition:
    """Who is returned as an innocent candidate at threshold ``t``."""
    G, ug = len(counts.groups), counts.unit_group
    searches = per_group(counts.non_mated, ug, G)  # (G,)
    cross = np.stack([per_group(counts.cross_positive[t, :, b], ug, G) for b in range(G)],
                     axis=1)  # (G probe, G candidate)
    return Composition(
        false_candidates=counts.false_candidates[t],
        searches=searches,
        per_search=_ratio(counts.false_candidates[t].astype(np.float64), searches[:, None]),
        fpir=_ratio(cross, searches[:, None]),
        replicates=None if rep is None else rep[:, CROSS : CROSS + G, :].transpose(0, 2, 1),
    )


def gallery_sizes(
    counts: IdentificationCounts,
    t: int,
    rep: np.ndarray | None,
    fmr: PooledRate,
    requested: Sequence[int],
) -> list[SizeRates]:
    """FPIR at the measured sizes, the audited size and every requested size, with the
    prediction ``1 − (1 − FMR)^N`` from each group's 1:1 FMR."""
    G = len(counts.groups)
    sizes = sorted({*map(int, counts.sizes), counts.gallery_size, *(int(n) for n in requested)})
    measured_at = {int(n): s for s, n in enumerate(counts.sizes)}
    fmr_values = [
        int(fmr.errors[g]) / int(fmr.trials[g]) if fmr.trials[g] else None for g in range(G)
    ]
    out = []
    for n in sizes:
        measured = None
        if n != counts.gallery_size and n in measured_at:
            s = measured_at[n]
            measured = pooled(counts, counts.size_false_positive[s, t], counts.non_mated,
                              None if rep is None else rep[:, CROSS + G + s, :])
        out.append(SizeRates(
            size=n,
            audited=n == counts.gallery_size,
            measured=measured,
            predicted=[
                None if f is None else float(predicted_fpir(np.asarray(f), n))
                for f in fmr_values
            ],
        ))
    return out


def _column(rep: np.ndarray | None, c: int) -> np.ndarray | None:
    return None if rep is None else rep[:, c, :]


def point_rates(
    counts: IdentificationCounts,
    t: int,
    rep: np.ndarray | None,
    requested_sizes: Sequence[int],
    alpha: float,
) -> PointRates:
    """Every rate at threshold ``t`` (``rep``: its replicates ``(R, 4 + G + S, G)``)."""
    fpir = pooled(counts, counts.false_positive[t], counts.non_mated, _column(rep, FPIR))
    fnir = pooled(counts, counts.miss[t], counts.mated, _column(rep, FNIR))
    fmr = pooled(counts, counts.impostor_hits[t], counts.impostor_comparisons, _column(rep, FMR))
    usable = [g for g in range(len(counts.groups)) if fpir.trials[g] and fnir.trials[g]]
    summaries = summary_replicates = None
    if len(usable) >= 2:
        summaries = fairness.summaries(fpir.value[usable], fnir.value[usable], None, alpha)
        if rep is not None:
            summary_replicates = fairness.summaries(
                rep[:, FPIR, usable], rep[:, FNIR, usable], None, alpha
            )
    return PointRates(
        fpir=fpir,
        fnir=fnir,
        rank1_hit_rate=pooled(counts, counts.rank1_hit[t], counts.mated, _column(rep, RANK1)),
        fmr=fmr,
        summary_groups=usable,
        summaries=summaries,
        summary_replicates=summary_replicates,
        composition=composition(counts, t, rep),
        sizes=gallery_sizes(counts, t, rep, fmr, requested_sizes),
    )


def identification_rates(
    counts: IdentificationCounts,
    *,
    requested_sizes: Sequence[int],
    reps: int,
    seed: int,
    alpha: float,
) -> IdentificationRates:
    """FPIR, FNIR, rank-1 hit rate and 1:1 FMR per probe group at each threshold, their
    summaries, who is returned as a false candidate, FPIR by gallery size, and the identity
    bootstrap's replicates of all of them (``reps == 0``: none)."""
    matrix = bootstrap_matrix(counts, reps, seed)
    return IdentificationRates(
        counts=counts,
        identities=int(len(np.unique(counts.unit_identity))),
        points=[
            point_rates(counts, t, None if matrix is None else matrix[:, t], requested_sizes,
                        alpha)
            for t in range(len(counts.thresholds))
        ],
    )
