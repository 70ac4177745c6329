"""The 1:1 audit's numbers, computed: from a :class:`~faceaudit.audit.scoring.ScoreSet` to the
rates at each target FMR, their identity-bootstrap replicates, the fairness summaries, each
group's EER and DET curve, and coarse score histograms.

Arrays in, arrays out: nothing here writes a report dict or a sentence.
:mod:`faceaudit.audit.sections` presents a :class:`ScoreRates` as the report's sections and
warnings; :func:`faceaudit.audit.engine.analyse_scores` runs the two.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from faceaudit.audit import fairness, metrics
from faceaudit.audit.bootstrap import bootstrap_with_pairs
from faceaudit.audit.det_bands import fnmr_bands
from faceaudit.audit.frame import GroupFrame
from faceaudit.audit.operating_points import (
    WorstGroupGrid,
    grid_bins,
    group_fmr_curves,
    recommend,
    upper_bounds,
)
from faceaudit.audit.scoring import ScoreSet
from faceaudit.audit.settings import AuditSettings

COARSE_BINS = 100

# Summaries that need each group's FMR (accuracy = 1 - (FMR + FNMR) / 2 included) and those
# that need FNMR only: the latter keep every group with genuine comparisons.
FNMR_ONLY = ("fnmr_ratio", "fnmr_difference", "fnmr_max_geomean")
WITH_FMR = tuple(k for k in fairness.SUMMARY_KEYS if k not in FNMR_ONLY)

# Why a group is left out of a family of summaries (the section builder words them).
NO_IMPOSTOR = "no impostor comparisons"
FEW_IMPOSTOR = "too few impostor comparisons for the target"
NO_GENUINE = "no genuine comparisons"


@dataclass(frozen=True)
class Tallies:
    """Comparison counts per group and threshold bin (``G`` groups, ``B`` bins).

    A comparison matches at threshold bin ``k`` when its score bin is ``k`` or above.
    """

    impostor_within: np.ndarray  # (G, B) impostor comparisons within each group
    genuine_within: np.ndarray  # (G, B) genuine comparisons within each group
    impostor_all: np.ndarray  # (B,) impostor comparisons over every pair of groups
    cross_pairs: np.ndarray  # (G, G) impostor comparisons of each pair of groups
    matches_at: np.ndarray  # (G, G, B) impostor comparisons matching at each bin
    genuine_through: np.ndarray  # (G, B) genuine comparisons in bins 0..k
    genuine_identities: list[int | None]  # identities behind each group's genuine pairs
    impostor_identities: list[int | None]  # and behind its impostor pairs

    @property
    def n_bins(self) -> int:
        """Number of threshold bins."""
        return self.impostor_within.shape[1]

    @property
    def impostor_pairs(self) -> np.ndarray:
        """``(G,)`` impostor comparisons within each group."""
        return self.impostor_within.sum(axis=1)

    @property
    def genuine_pairs(self) -> np.ndarray:
        """``(G,)`` genuine comparisons within each group."""
        return self.genuine_within.sum(axis=1)

    def false_matches(self, k: int) -> np.ndarray:
        """``(G, G)`` impostor comparisons of each pair of groups matching at bin ``k``."""
        if k < self.n_bins:
            return self.matches_at[:, :, k]
        return np.zeros_like(self.cross_pairs)

    def false_non_matches(self, k: int) -> np.ndarray:
        """``(G,)`` genuine comparisons of each group not matching at bin ``k``."""
        if k > 0:
            return self.genuine_through[:, k - 1]
        return np.zeros(len(self.genuine_through), dtype=self.genuine_through.dtype)

    def fmr(self, k: int) -> np.ndarray:
        """``(G, G)`` FMR of each pair of groups at bin ``k`` (NaN without comparisons)."""
        n = self.cross_pairs
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(n > 0, self.false_matches(k) / n, np.nan)

    def fnmr(self, k: int) -> np.ndarray:
        """``(G,)`` FNMR of each group at bin ``k`` (NaN without genuine comparisons)."""
        n = self.genuine_pairs
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(n > 0, self.false_non_matches(k) / n, np.nan)


@dataclass(frozen=True)
class Replicates:
    """Bootstrap replicates (``R`` of them) of every rate at each threshold bin drawn."""

    fmr: dict[int, np.ndarray]  # bin -> (R, G, G)
    fnmr: dict[int, np.ndarray]  # bin -> (R, G)
    method: str  # how FMR was resampled: "two-way" or "linearised"
    two_way_refused: bool  # the two-way bootstrap was wanted at the targets but too big


@dataclass(frozen=True)
class SummaryFamily:
    """Summaries ``keys`` over the groups that have the rates they need (``members``)."""

    keys: tuple[str, ...]
    members: list[int]
    left_out: dict[int, str]  # group -> why (NO_IMPOSTOR, FEW_IMPOSTOR, NO_GENUINE)
    point: dict[str, np.ndarray] | None  # None when fewer than two groups qualify
    replicates: dict[str, np.ndarray] | None  # (R,) per key, None without a bootstrap


@dataclass(frozen=True)
class ThresholdRates:
    """Every rate at the threshold of one supported target FMR."""

    threshold: float
    group_supported: np.ndarray  # (G,) bool: enough impostor comparisons for the target
    # fmr (NaN where unsupported), fnmr, accuracy, fnmr_at_group_threshold; overall: the
    # achieved FMR over all impostor comparisons
    point: GroupFrame
    replicates: GroupFrame | None  # fmr, fnmr, accuracy (R, G); None without a bootstrap
    group_thresholds: list[float | None]  # each group's own threshold for the target
    false_matches: np.ndarray  # (G, G)
    false_non_matches: np.ndarray  # (G,)
    cross_fmr: np.ndarray  # (G, G)
    cross_supported: np.ndarray  # (G, G) bool
    cross_replicates: np.ndarray | None  # (R, G, G)
    with_fmr: SummaryFamily
    fnmr_only: SummaryFamily


@dataclass(frozen=True)
class TargetRates:
    """One target FMR: its rule-of-three need and, where supported, its rates."""

    target_fmr: float
    required_pairs: int
    at: ThresholdRates | None  # None: too few impostor comparisons for the target


@dataclass(frozen=True)
class DetCurve:
    """One group's DET curve (thresholds on the input's own scale)."""

    group: str
    thresholds: np.ndarray
    fmr: np.ndarray
    fnmr: np.ndarray
    # the identity-bootstrap interval of FNMR at each point (:mod:`faceaudit.audit.det_bands`)
    fnmr_low: np.ndarray | None = None
    fnmr_high: np.ndarray | None = None


@dataclass(frozen=True)
class CoarseHistograms:
    """Score histograms on at most :data:`COARSE_BINS` bins evenly spaced in score."""

    edges: np.ndarray  # (n + 1,) on the input's own scale, in bin order
    genuine: np.ndarray  # (G, n)
    impostor: np.ndarray  # (G, n)
    higher_is_better: bool


@dataclass(frozen=True)
class ScoreRates:
    """Everything :func:`score_rates` computes from one :class:`ScoreSet`."""

    groups: list[str]
    tallies: Tallies
    genuine_total: int  # every genuine comparison, cross-group ones included
    targets: list[TargetRates]
    eer: GroupFrame  # "eer" per group (NaN without genuine and impostor comparisons)
    eer_thresholds: list[float | None]
    eer_replicates: np.ndarray | None  # (R, G), NaN where a group has no EER
    det: list[DetCurve]
    histograms: CoarseHistograms | None
    bootstrap: Replicates | None
    no_identities: bool  # a bootstrap was asked for but the input names no identities
    worst_group: list[WorstGroupGrid] = field(default_factory=list)  # --operating-points


def tally(scores: ScoreSet) -> Tallies:
    """Count the comparisons of ``scores`` per group and bin."""
    G = len(scores.groups)
    H = scores.impostor_hist
    imp_within = H[np.arange(G), np.arange(G)]
    within = scores.genuine_group_a == scores.genuine_group_b
    gen_within = np.zeros((G, scores.n_bins), np.int64)
    np.add.at(gen_within, (scores.genuine_group_a[within], scores.genuine_bins[within]), 1)
    gen_ids: list[int | None] = [None] * G
    if scores.counter is not None:
        wa, wu = scores.genuine_group_a[within], scores.genuine_unit[within]
        gen_ids = [len(np.unique(wu[wa == g])) for g in range(G)]
    imp_ids: list[int | None] = (
        [int(x) for x in scores.impostor_identities]
        if scores.impostor_identities is not None
        else [None] * G
    )
    return Tallies(
        impostor_within=imp_within,
        genuine_within=gen_within,
        impostor_all=H[np.triu(np.ones((G, G), dtype=bool))].sum(axis=0),
        cross_pairs=H.sum(axis=2),
        matches_at=np.cumsum(H[..., ::-1], axis=2)[..., ::-1],
        genuine_through=np.cumsum(gen_within, axis=1),
        genuine_identities=gen_ids,
        impostor_identities=imp_ids,
    )


def target_bin(scores: ScoreSet, tallies: Tallies, target: float) -> int | None:
    """The threshold bin of ``target`` over all impostor comparisons (``None``: the rule of
    three needs more of them)."""
    n = int(tallies.impostor_all.sum())
    if not (n and metrics.supports(n, target)):
        return None
    return scores.threshold_bin(None, target, tallies.impostor_all)


def group_eers(tallies: Tallies) -> list[tuple[float, int]]:
    """Each group's EER and its threshold bin (``(nan, -1)`` without both kinds of pairs)."""
    n_imp, n_gen = tallies.impostor_pairs, tallies.genuine_pairs
    return [
        metrics.eer(tallies.impostor_within[g], tallies.genuine_within[g])
        if n_imp[g] and n_gen[g]
        else (float("nan"), -1)
        for g in range(len(n_imp))
    ]


def bootstrap(
    scores: ScoreSet,
    tallies: Tallies,
    bins: list[int],
    target_bins: list[int],
    settings: AuditSettings,
    weights: np.ndarray | None,
) -> Replicates:
    """Identity-bootstrap replicates of every rate at the fixed threshold ``bins``.

    FNMR resamples each group's identities; FMR resamples both identities of an impostor
    comparison: exactly (two-way, each pair weighted by the product of both identities'
    multiplicities) at ``target_bins`` where the pairs fit in memory, linearised elsewhere.
    """
    G = len(scores.groups)
    assert scores.counter is not None  # a bootstrap needs identities
    matches, comparisons, pairs = scores.counter(
        np.asarray(bins), np.asarray(target_bins) if target_bins else None
    )
    unit_group = scores.unit_group
    U = len(unit_group)
    within = scores.genuine_group_a == scores.genuine_group_b
    gw_unit = scores.genuine_unit[within]
    gw_bins = scores.genuine_bins[within]
    gen_n = np.bincount(gw_unit, minlength=U)
    member = [unit_group == g for g in range(G)]
    errors: list[np.ndarray] = []
    totals: list[np.ndarray] = []
    fnmr_col = np.zeros((len(bins), G), np.intp)
    fmr_col = np.zeros((len(bins), G, G), np.intp)
    for ki, k in enumerate(bins):  # one column per rate, in this order (the bootstrap's BLAS
        gen_err = np.bincount(gw_unit[gw_bins < k], minlength=U)  # products are per column)
        for a in range(G):
            fnmr_col[ki, a] = len(errors)
            errors.append(gen_err * member[a])
            totals.append(gen_n * member[a])
            for b in range(G):
                fmr_col[ki, a, b] = len(errors)
                errors.append(matches[:, b, ki] * member[a])
                totals.append(comparisons[:, b] * member[a])
    boot, two_way = bootstrap_with_pairs(
        unit_group,
        np.stack(errors, 1),
        np.stack(totals, 1),
        settings.reps,
        settings.seed,
        pairs,
        G,
        weights,
    )
    fnmr = {k: boot[:, fnmr_col[ki]] for ki, k in enumerate(bins)}
    fmr = {}
    for ki, k in enumerate(bins):
        # An impostor comparison involves two identities. Counting it once for each side and
        # resampling linearly moves the rate by half of what resampling both identities does
        # (weights w_a * w_b, linearised: (w_a - 1) + (w_b - 1)); add both sides' deviations.
        one_sided = boot[:, fmr_col[ki]]
        both = one_sided + one_sided.transpose(0, 2, 1) - tallies.fmr(k)
        fmr[k] = np.clip(both, 0.0, 1.0)
    if two_way is not None:
        for ki, k in enumerate(target_bins):
            fmr[k] = two_way[..., ki]
    return Replicates(
        fmr=fmr,
        fnmr=fnmr,
        method="two-way" if two_way is not None else "linearised",
        two_way_refused=two_way is None and bool(target_bins),
    )


def summary_family(
    keys: tuple[str, ...],
    needs: tuple[str, ...],
    left_out: dict[int, str],
    point: GroupFrame,
    replicates: GroupFrame | None,
    alpha: float,
) -> SummaryFamily:
    """The summaries ``keys`` over the groups not ``left_out``, from the rates they ``needs``
    (of ``fmr``, ``fnmr``, ``accuracy``), for the point estimates and for every replicate."""
    members = [g for g in range(len(point.groups)) if g not in left_out]
    if len(members) < 2:
        return SummaryFamily(keys, members, left_out, None, None)
    summaries = point.select(members).only(needs).summaries(alpha)
    reps = None
    if replicates is not None:
        reps = replicates.select(members).only(needs).summaries(alpha)
    return SummaryFamily(keys, members, left_out, summaries, reps)


def threshold_rates(
    scores: ScoreSet,
    tallies: Tallies,
    target: float,
    k: int,
    boot: Replicates | None,
    alpha: float,
) -> ThresholdRates:
    """Every rate at target FMR ``target``, whose threshold is bin ``k``."""
    groups, G = scores.groups, len(scores.groups)
    n_imp, n_gen = tallies.impostor_pairs, tallies.genuine_pairs
    supported = np.array(
        [metrics.supports(int(n_imp[g]), target) if n_imp[g] else False for g in range(G)]
    )
    group_bins = [
        scores.threshold_bin(g, target, tallies.impostor_within[g]) if supported[g] else None
        for g in range(G)
    ]
    cross = tallies.fmr(k)
    fmr = np.where(supported, np.diagonal(cross), np.nan)
    fnmr = tallies.fnmr(k)
    at_own = np.array(
        [tallies.fnmr(kg)[g] if kg is not None else np.nan for g, kg in enumerate(group_bins)]
    )
    point = GroupFrame(
        groups,
        {"fmr": fmr, "fnmr": fnmr, "accuracy": 1 - (fmr + fnmr) / 2,
         "fnmr_at_group_threshold": at_own},
        {"fmr": tallies.impostor_all[k:].sum() / tallies.impostor_all.sum()},
    )
    replicates = cross_replicates = None
    if boot is not None:
        cross_replicates = boot.fmr[k]
        rep_fmr = cross_replicates[:, np.arange(G), np.arange(G)]
        replicates = GroupFrame(
            groups,
            {"fmr": rep_fmr, "fnmr": boot.fnmr[k],
             "accuracy": 1 - (rep_fmr + boot.fnmr[k]) / 2},
        )
    fmr_left_out: dict[int, str] = {}
    fnmr_left_out: dict[int, str] = {}
    for g in range(G):
        if not n_imp[g]:
            fmr_left_out[g] = NO_IMPOSTOR
        elif not supported[g]:
            fmr_left_out[g] = FEW_IMPOSTOR
        if not n_gen[g]:
            fnmr_left_out[g] = NO_GENUINE
            fmr_left_out.setdefault(g, NO_GENUINE)
    n_cross = tallies.cross_pairs
    return ThresholdRates(
        threshold=scores.value(k),
        group_supported=supported,
        point=point,
        replicates=replicates,
        group_thresholds=[scores.value(kg) if kg is not None else None for kg in group_bins],
        false_matches=tallies.false_matches(k),
        false_non_matches=tallies.false_non_matches(k),
        cross_fmr=cross,
        cross_supported=np.array(
            [[metrics.supports(int(n_cross[a, b]), target) if n_cross[a, b] else False
              for b in range(G)] for a in range(G)]
        ),
        cross_replicates=cross_replicates,
        with_fmr=summary_family(
            WITH_FMR, ("fmr", "fnmr", "accuracy"), fmr_left_out, point, replicates, alpha
        ),
        fnmr_only=summary_family(FNMR_ONLY, ("fnmr",), fnmr_left_out, point, replicates, alpha),
    )


def coarse_histograms(scores: ScoreSet, tallies: Tallies) -> CoarseHistograms | None:
    """Within-group genuine and impostor histograms on coarse bins evenly spaced in score
    over the occupied range (the fine edges of a scores table are not); ``None`` when empty."""
    imp, gen = tallies.impostor_within, tallies.genuine_within
    occupied = np.flatnonzero(np.sum(imp, axis=0) + np.sum(gen, axis=0))
    if occupied.size == 0:
        return None
    lo, hi = int(occupied[0]), int(occupied[-1]) + 1
    top = scores.edges[hi] if hi < scores.n_bins else scores.beyond
    wanted = np.linspace(scores.edges[lo], top, COARSE_BINS + 1)
    edges = np.unique(np.clip(np.searchsorted(scores.edges, wanted), lo, hi))
    edges = np.unique(np.r_[lo, edges, hi])
    starts = edges[:-1] - lo
    return CoarseHistograms(
        edges=scores.value(edges),
        genuine=np.add.reduceat(gen[:, lo:hi], starts, axis=1),
        impostor=np.add.reduceat(imp[:, lo:hi], starts, axis=1),
        higher_is_better=scores.higher_is_better,
    )


def det_curves(scores: ScoreSet, tallies: Tallies, settings: AuditSettings | None = None
               ) -> list[DetCurve]:
    """The DET curve of each group with genuine and impostor comparisons, with its FNMR band
    (:func:`faceaudit.audit.det_bands.fnmr_bands`) when ``settings`` asks for a bootstrap and
    the input names identities."""
    points = {}
    for g in range(len(scores.groups)):
        if tallies.impostor_pairs[g] and tallies.genuine_pairs[g]:
            points[g] = metrics.det_points(tallies.impostor_within[g], tallies.genuine_within[g])
    bands = {}
    if settings is not None and settings.reps > 0 and scores.counter is not None:
        bands = fnmr_bands(scores, {g: ks for g, (ks, _, _) in points.items()},
                           settings.reps, settings.seed, settings.confidence)
    return [DetCurve(scores.groups[g], scores.value(ks), fmr, fnmr,
                     *bands.get(g, (None, None)))
            for g, (ks, fmr, fnmr) in points.items()]


def score_rates(
    scores: ScoreSet, settings: AuditSettings, weights: np.ndarray | None = None
) -> ScoreRates:
    """Thresholds, per-group and cross-group rates, summaries, EER, DET, histograms and their
    bootstrap replicates.

    ``weights`` (``(settings.reps, U)`` over ``scores.unit_group``, see
    :func:`~faceaudit.audit.bootstrap.draw_weights`) fixes the resampled identities instead of
    drawing them from ``settings.seed``.
    """
    tallies = tally(scores)
    bins = [target_bin(scores, tallies, t) for t in settings.targets]
    eers = group_eers(tallies)
    target_bins = sorted({k for k in bins if k is not None})
    grids = operating_grids(tallies, settings, bins) if settings.operating_points else {}
    grid_all = sorted({k for ks in grids.values() for k in ks} - set(target_bins))
    drawn = sorted(set(target_bins) | {k for _, k in eers if k >= 0} | set(grid_all))
    boot = None
    if settings.reps > 0 and scores.counter is not None and drawn:
        boot = bootstrap(scores, tallies, drawn, sorted(set(target_bins) | set(grid_all)),
                         settings, weights)
    worst = [worst_group(scores, tallies, t, ks, boot, settings.confidence)
             for t, ks in grids.items()]
    eer_reps = None
    if boot is not None:
        eer_reps = np.full((settings.reps, len(eers)), np.nan)
        for g, (_, k) in enumerate(eers):
            if k >= 0:
                eer_reps[:, g] = (boot.fmr[k][:, g, g] + boot.fnmr[k][:, g]) / 2
    targets = [
        TargetRates(
            target_fmr=t,
            required_pairs=metrics.required_pairs(t),
            at=None if k is None else threshold_rates(scores, tallies, t, k, boot, settings.alpha),
        )
        for t, k in zip(settings.targets, bins, strict=True)
    ]
    return ScoreRates(
        groups=list(scores.groups),
        tallies=tallies,
        genuine_total=int(len(scores.genuine_bins)),
        targets=targets,
        eer=GroupFrame(scores.groups, {"eer": [value for value, _ in eers]}),
        eer_thresholds=[scores.value(k) if k >= 0 else None for _, k in eers],
        eer_replicates=eer_reps,
        det=det_curves(scores, tallies, settings),
        histograms=coarse_histograms(scores, tallies),
        bootstrap=boot,
        no_identities=settings.reps > 0 and scores.counter is None,
        worst_group=worst,
    )


def target_support(tallies: Tallies, target: float) -> np.ndarray:
    """``(G,)`` whether each group's impostor comparisons support ``target`` (rule of three)."""
    n_imp = tallies.impostor_pairs
    return np.array([bool(n) and metrics.supports(int(n), target) for n in n_imp])


def operating_grids(tallies: Tallies, settings: AuditSettings, bins: list[int | None]
                    ) -> dict[float, list[int]]:
    """The worst-group threshold grid of each supported target
    (:func:`faceaudit.audit.operating_points.grid_bins`)."""
    G = len(tallies.impostor_pairs)
    curves = group_fmr_curves(tallies.matches_at[np.arange(G), np.arange(G)],
                              tallies.impostor_pairs)
    return {t: grid_bins(curves, target_support(tallies, t), t)
            for t, k in zip(settings.targets, bins, strict=True) if k is not None}


def worst_group(scores: ScoreSet, tallies: Tallies, target: float, ks: list[int],
                boot: Replicates | None, confidence: float) -> WorstGroupGrid:
    """The recommended worst-group threshold of ``target`` over its grid bins ``ks``."""
    G = len(scores.groups)
    within = tallies.matches_at[np.arange(G), np.arange(G)]
    highs = {
        k: upper_bounds(k, within, tallies.impostor_pairs, tallies.impostor_identities,
                        None if boot is None else boot.fmr[k][:, np.arange(G), np.arange(G)],
                        confidence)
        for k in ks
    }
    grid = recommend(target, ks, target_support(tallies, target), highs)
    return replace(grid, thresholds=[float(scores.value(k)) for k in ks])


def named_replicates(rates: ScoreRates) -> dict[tuple, np.ndarray]:
    """The replicates behind each supported target's estimates, keyed
    ``(target_fmr, "fmr" | "fnmr" | "accuracy", group)`` and ``(target_fmr, "summary", key)``
    (empty without a bootstrap): the ``replicates`` of
    :class:`~faceaudit.audit.engine.EngineResult`."""
    out: dict[tuple, np.ndarray] = {}
    for target in rates.targets:
        at, t = target.at, target.target_fmr
        if at is None or at.replicates is None:
            continue
        for g, name in enumerate(rates.groups):
            out[t, "fnmr", name] = at.replicates.values("fnmr")[:, g]
            if at.group_supported[g]:
                out[t, "fmr", name] = at.replicates.values("fmr")[:, g]
                out[t, "accuracy", name] = at.replicates.values("accuracy")[:, g]
        for family in (at.with_fmr, at.fnmr_only):
            if family.replicates is not None:
                out.update({(t, "summary", key): family.replicates[key] for key in family.keys})
    return out
