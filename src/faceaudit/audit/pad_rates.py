"""The PAD audit's numbers (ISO/IEC 30107-3), computed: arrays in, arrays out.

A presentation is *accepted as bona fide* when its score is at or above the threshold
(``score >= τ``, on an internal scale where a higher score is more bona fide: scores where a
higher one means an attack are negated first, so ties count exactly as in the comparison
audit). At one threshold:

- APCER of species ``S`` = attack presentations of ``S`` accepted / attack presentations of
  ``S``; the APCER of a group is its worst species' (ISO/IEC 30107-3's APCER_PAIS, the maximum
  over species);
- BPCER = bona fide presentations rejected / bona fide presentations;
- IAPMR = attacks (with a comparison score) accepted by PAD *and* matching the impersonated
  subject (comparison score at or above the comparison threshold) / attacks with a comparison
  score.

BPCER at APCER ``x`` (BPCER100, BPCER20, BPCER10 for 1 %, 5 %, 10 %) is read at one global
threshold, set on every group's attacks together: the lowest attack score ``τ`` (of any
species) at which every species' APCER is at most ``x`` (:func:`apcer_threshold`). Per group
BPCER and APCER are then read there: a deployment has one threshold for everyone.

Intervals resample subjects within their group (:func:`faceaudit.audit.bootstrap.bootstrap_rates`,
every rate of every operating point on the same resamples). Presenting is
:mod:`faceaudit.audit.pad_report`'s.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from faceaudit.audit import fairness, metrics
from faceaudit.audit.bootstrap import bootstrap_rates
from faceaudit.audit.pad_inputs import PadTable
from faceaudit.base.errors import InputDataError

#: the APCER targets of BPCER100, BPCER20 and BPCER10
APCER_TARGETS = (0.01, 0.05, 0.10)



@dataclass(frozen=True)
class PadData:
    """A PAD table encoded: scores on the internal scale (higher = more bona fide), codes."""

    score: np.ndarray  # (N,) internal scale
    attack: np.ndarray  # (N,) bool
    species: np.ndarray  # (N,) species code, -1 for bona fide
    species_names: list[str]
    group: np.ndarray  # (N,) group code
    groups: list[str]
    unit: np.ndarray  # (N,) subject within group
    unit_group: np.ndarray  # (U,) group of each unit
    comparison: np.ndarray | None  # (N,) higher = more similar; NaN where absent
    higher_is_attack: bool
    comparison_lower_is_better: bool

    def external(self, tau: float) -> float:
        """A threshold of the internal scale on the input's own scale."""
        return -tau if self.higher_is_attack else tau

    def internal(self, threshold: float) -> float:
        """A threshold of the input's scale on the internal one."""
        return -threshold if self.higher_is_attack else threshold


def _codes(values: Sequence[str] | np.ndarray) -> tuple[list[str], np.ndarray]:
    """Sorted distinct labels and each row's code in them."""
    names, codes = np.unique(np.asarray(values, dtype=str), return_inverse=True)
    return [str(n) for n in names], codes.reshape(-1).astype(np.intp)


def pad_data(table: PadTable, *, higher_is_attack: bool = False,
             comparison_lower_is_better: bool = False) -> PadData:
    """Encode ``table``: groups and species sorted by name, a unit per (subject, group)."""
    groups, group = _codes(table.group)
    attack = table.attack
    named = np.asarray(table.species, dtype=object)
    species = np.full(len(named), -1, dtype=np.intp)
    species_names: list[str] = []
    if attack.any():
        species_names, species[attack] = _codes(named[attack])
    _, subject = _codes(table.subject)
    _, first, unit = np.unique(subject.astype(np.int64) * len(groups) + group,
                               return_index=True, return_inverse=True)
    score = np.asarray(table.score, dtype=np.float64)
    comparison = None
    if table.comparison is not None:
        comparison = np.asarray(table.comparison, dtype=np.float64)
        comparison = -comparison if comparison_lower_is_better else comparison
    return PadData(
        score=-score if higher_is_attack else score,
        attack=attack,
        species=species,
        species_names=species_names,
        group=group,
        groups=groups,
        unit=unit.reshape(-1).astype(np.intp),
        unit_group=group[first],
        comparison=comparison,
        higher_is_attack=higher_is_attack,
        comparison_lower_is_better=comparison_lower_is_better,
    )


def apcer_threshold(data: PadData, target: float) -> float:
    """The global threshold (internal scale) of BPCER at APCER ``target``: the lowest attack
    score, of any species, at which every species' APCER over all groups is at most
    ``target`` (ties whole: every score equal to it is accepted); the next float above the
    highest attack score when none is.

    Species ``S`` allows ``m_S = ⌊target · n_S⌋`` accepted attacks (as
    :func:`faceaudit.audit.metrics.exact_thresholds` counts), so the threshold must lie above
    its ``(m_S + 1)``-th highest score ``x_S``; the answer is the lowest attack score above
    ``max_S x_S``.
    """
    metrics.required_pairs(target)  # refuses a target outside (0, 1)
    scores = data.score[data.attack]
    species = data.species[data.attack]
    bound = -np.inf
    for s in range(len(data.species_names)):
        own = np.sort(scores[species == s])[::-1]
        allowed = int(np.floor(target * len(own)))
        bound = max(bound, float(own[allowed]))
    above = scores[scores > bound]
    return float(above.min()) if above.size else float(np.nextafter(bound, np.inf))


def required_attacks(target: float) -> int:
    """Attack presentations per species that support an APCER of ``target`` (rule of three)."""
    return metrics.required_pairs(target)


@dataclass(frozen=True)
class Counts:
    """Per-unit counts at one threshold (``U`` units, ``S`` species); a rate over a set of
    units is the sum of its errors over the sum of its trials."""

    bpcer_errors: np.ndarray  # (U,) bona fide presentations rejected
    bona_fide: np.ndarray  # (U,)
    apcer_errors: np.ndarray  # (U, S) attacks accepted as bona fide
    attacks: np.ndarray  # (U, S)
    iapmr_errors: np.ndarray | None  # (U,) attacks accepted and matching
    iapmr_trials: np.ndarray | None  # (U,) attacks with a comparison score


def unit_counts(data: PadData, tau: float, comparison_threshold: float | None) -> Counts:
    """What each unit contributes to every rate at threshold ``tau`` (internal scale);
    ``comparison_threshold`` (internal scale) for IAPMR, when the table has comparison
    scores."""
    U, S = len(data.unit_group), len(data.species_names)
    accepted = data.score >= tau
    bona = ~data.attack
    bpcer_errors = np.bincount(data.unit[bona & ~accepted], minlength=U)
    bona_fide = np.bincount(data.unit[bona], minlength=U)
    apcer_errors = np.zeros((U, S), np.int64)
    attacks = np.zeros((U, S), np.int64)
    rows = data.attack
    np.add.at(attacks, (data.unit[rows], data.species[rows]), 1)
    np.add.at(apcer_errors, (data.unit[rows & accepted], data.species[rows & accepted]), 1)
    iapmr_errors = iapmr_trials = None
    if data.comparison is not None and comparison_threshold is not None:
        scored = data.attack & np.isfinite(data.comparison)
        with np.errstate(invalid="ignore"):
            match = np.where(scored, data.comparison, -np.inf) >= comparison_threshold
        iapmr_trials = np.bincount(data.unit[scored], minlength=U)
        iapmr_errors = np.bincount(data.unit[scored & accepted & match], minlength=U)
    return Counts(bpcer_errors, bona_fide, apcer_errors, attacks, iapmr_errors, iapmr_trials)


@dataclass(frozen=True)
class Rate:
    """One rate per group and over every group: errors, trials, subjects behind it and, with
    a bootstrap, replicates. Arrays have groups on the last axis (``(G,)``, ``(R, G)``)."""

    errors: np.ndarray  # (G,)
    trials: np.ndarray  # (G,)
    subjects: np.ndarray  # (G,) units with at least one trial
    replicates: np.ndarray | None  # (R, G)
    overall_errors: int
    overall_trials: int
    overall_subjects: int
    overall_replicates: np.ndarray | None  # (R,)

    @property
    def value(self) -> np.ndarray:
        """``(G,)`` errors / trials (NaN without trials)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.trials > 0, self.errors / np.maximum(self.trials, 1), np.nan)

    @property
    def overall(self) -> float:
        """The rate over every group (NaN without trials)."""
        return self.overall_errors / self.overall_trials if self.overall_trials else np.nan


@dataclass(frozen=True)
class Worst:
    """Each group's worst species (APCER_PAIS): which species, and its rate. A group's worst
    species is the one with the highest APCER; among equals, the one with the fewest attacks
    (its bound is the widest). ``replicates`` take the maximum over the group's species in
    every replicate."""

    species: list[int | None]  # (G,) species code, None without attacks
    rate: Rate  # errors/trials/subjects of each group's worst species
    overall_species: int | None


@dataclass(frozen=True)
class Family:
    """The summaries of one rate over the groups that have it."""

    rate: str  # "bpcer", "apcer" or "iapmr"
    members: list[int]
    left_out: dict[int, str]  # group -> why: NO_TRIALS or FEW_ATTACKS
    point: dict[str, float] | None  # None with fewer than two member groups
    replicates: dict[str, np.ndarray] | None


#: the summaries over both rates, as the 1:1 audit's over FMR and FNMR: APCER (an attack
#: accepted, a false accept) in the place of FMR, BPCER (a false reject) in that of FNMR
COMBINED = ("inequity", "fdr", "garbe")


@dataclass(frozen=True)
class Combined:
    """:data:`COMBINED` over the groups in both the APCER and the BPCER summaries."""

    members: list[int]
    point: dict[str, float] | None  # None with fewer than two such groups
    replicates: dict[str, np.ndarray] | None


def _combined_values(apcer: np.ndarray, bpcer: np.ndarray, alpha: float
                     ) -> dict[str, np.ndarray]:
    return {
        "inequity": fairness.inequity_rate(apcer, bpcer, alpha),
        "fdr": fairness.fairness_discrepancy_rate(apcer, bpcer, alpha),
        "garbe": fairness.garbe(apcer, bpcer, alpha),
    }


def combined(apcer: Family, worst: Rate, bpcer: Rate, alpha: float) -> Combined:
    """Inequity rate, FDR and GARBE (:mod:`faceaudit.audit.fairness`) of the groups' APCER
    (worst species) and BPCER, weighted by ``alpha``, with their replicates."""
    members = [g for g in apcer.members if bpcer.trials[g] > 0]
    if len(members) < 2:
        return Combined(members, None, None)
    point = {k: float(v) for k, v in
             _combined_values(worst.value[members], bpcer.value[members], alpha).items()}
    reps = None
    if worst.replicates is not None and bpcer.replicates is not None:
        reps = _combined_values(worst.replicates[:, members], bpcer.replicates[:, members],
                                alpha)
    return Combined(members, point, reps)


@dataclass(frozen=True)
class PadPoint:
    """Every rate at one operating point."""

    label: str  # "BPCER20", or "given threshold"
    apcer_target: float | None  # None: a given threshold
    threshold: float  # on the input's own scale
    supported: bool  # every species has the attacks the rule of three needs for the target
    groups_supported: np.ndarray  # (G,) the same within each group, for the species it has
    bpcer: Rate
    apcer: list[Rate]  # per species
    worst: Worst
    iapmr: Rate | None
    families: dict[str, Family]
    combined: Combined


def point_label(target: float | None) -> str:
    """``BPCER100`` for an APCER of 1 % (``BPCER@APCER=0.03`` where 1/x is not whole)."""
    if target is None:
        return "given threshold"
    inverse = 1.0 / target
    if abs(inverse - round(inverse)) < 1e-9:
        return f"BPCER{round(inverse)}"
    return f"BPCER@APCER={target:g}"


def _rate(errors_u: np.ndarray, trials_u: np.ndarray, data: PadData,
          boot: np.ndarray | None) -> Rate:
    """A rate from per-unit counts, its ``boot`` columns ``(R, G + 1)`` (groups, then all)."""
    G = len(data.groups)
    ug = data.unit_group
    errors = np.bincount(ug, weights=errors_u, minlength=G).astype(np.int64)
    trials = np.bincount(ug, weights=trials_u, minlength=G).astype(np.int64)
    subjects = np.bincount(ug, weights=(trials_u > 0).astype(np.float64),
                           minlength=G).astype(np.int64)
    return Rate(
        errors=errors, trials=trials, subjects=subjects,
        replicates=None if boot is None else boot[:, :G],
        overall_errors=int(errors_u.sum()), overall_trials=int(trials_u.sum()),
        overall_subjects=int((trials_u > 0).sum()),
        overall_replicates=None if boot is None else boot[:, G],
    )


def _columns(counts: Counts, data: PadData) -> tuple[np.ndarray, np.ndarray, list[tuple]]:
    """Every rate of one point as columns over units: per rate ``G`` group columns then one
    over all groups; returns errors, trials ``(U, M)`` and what each block of columns is."""
    G = len(data.groups)
    member = (data.unit_group[:, None] == np.arange(G)[None, :]).astype(np.float64)  # (U, G)
    errors, trials, blocks = [], [], []

    def add(key: tuple, e: np.ndarray, n: np.ndarray) -> None:
        errors.append(np.c_[member * e[:, None], e])
        trials.append(np.c_[member * n[:, None], n])
        blocks.append(key)

    add(("bpcer",), counts.bpcer_errors, counts.bona_fide)
    for s in range(len(data.species_names)):
        add(("apcer", s), counts.apcer_errors[:, s], counts.attacks[:, s])
    if counts.iapmr_errors is not None and counts.iapmr_trials is not None:
        add(("iapmr",), counts.iapmr_errors, counts.iapmr_trials)
    return np.hstack(errors).astype(np.float64), np.hstack(trials).astype(np.float64), blocks


def _worst(apcer: list[Rate], data: PadData) -> Worst:
    """Each group's (and all groups') worst species and its rate (:class:`Worst`)."""
    G = len(data.groups)
    values = np.array([r.value for r in apcer])  # (S, G)
    trials = np.array([r.trials for r in apcer])

    def pick(vals: np.ndarray, n: np.ndarray) -> int | None:
        ok = np.flatnonzero(n > 0)
        if ok.size == 0:
            return None
        top = vals[ok].max()
        tied = ok[vals[ok] == top]
        return int(tied[np.argmin(n[tied])])

    chosen = [pick(values[:, g], trials[:, g]) for g in range(G)]
    overall_values = np.array([r.overall for r in apcer])
    overall_trials = np.array([r.overall_trials for r in apcer])
    overall = pick(overall_values, overall_trials)

    def take(attr: str) -> np.ndarray:
        return np.array([getattr(apcer[s], attr)[g] if s is not None else 0
                         for g, s in enumerate(chosen)], dtype=np.int64)

    reps = overall_reps = None
    if apcer and apcer[0].replicates is not None:
        stack = np.stack([r.replicates for r in apcer if r.replicates is not None])  # (S,R,G)
        stack = np.where(trials[:, None, :] > 0, stack, np.nan)
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN: no attacks drawn
            reps = np.nanmax(stack, axis=0)
            overall_reps = np.nanmax(np.stack([r.overall_replicates for r in apcer
                                               if r.overall_replicates is not None]), axis=0)
    rate = Rate(
        errors=take("errors"), trials=take("trials"), subjects=take("subjects"),
        replicates=reps,
        overall_errors=apcer[overall].overall_errors if overall is not None else 0,
        overall_trials=apcer[overall].overall_trials if overall is not None else 0,
        overall_subjects=apcer[overall].overall_subjects if overall is not None else 0,
        overall_replicates=overall_reps,
    )
    return Worst(chosen, rate, overall)


def summaries(values: np.ndarray) -> dict[str, np.ndarray]:
    """max/min, max/geometric-mean and max − min over groups (last axis) of one rate."""
    return {
        "ratio": fairness.max_min_ratio(values),
        "max_geomean": fairness.max_geomean_ratio(values),
        "difference": fairness.max_min_difference(values),
    }


#: why a group is left out of a family of summaries (the report words them)
NO_TRIALS = "no presentations"
FEW_ATTACKS = "too few attack presentations for the APCER target"


def family(name: str, rate: Rate, supported: np.ndarray | None = None) -> Family:
    """The summaries of ``rate`` over the groups with trials of it (and, where ``supported``
    is given, enough of them for the APCER target: the comparison audit leaves a group with
    too few impostor comparisons for its target out of the FMR summaries the same way)."""
    left_out: dict[int, str] = {}
    for g in range(len(rate.trials)):
        if rate.trials[g] == 0:
            left_out[g] = NO_TRIALS
        elif supported is not None and not supported[g]:
            left_out[g] = FEW_ATTACKS
    members = [g for g in range(len(rate.trials)) if g not in left_out]
    if len(members) < 2:
        return Family(name, members, left_out, None, None)
    point = {k: float(v) for k, v in summaries(rate.value[members]).items()}
    reps = None
    if rate.replicates is not None:
        reps = summaries(rate.replicates[:, members])
    return Family(name, members, left_out, point, reps)


def group_support(apcer: list[Rate], target: float | None) -> np.ndarray:
    """``(G,)`` whether each group has, of every species it has attacks of, the attack
    presentations the rule of three needs for ``target`` (all true for a given threshold)."""
    trials = np.array([r.trials for r in apcer])  # (S, G)
    if target is None:
        return np.ones(trials.shape[1], dtype=bool)
    need = required_attacks(target)
    return np.all((trials == 0) | (trials >= need), axis=0)


def pad_point(data: PadData, tau: float, target: float | None,
              comparison_threshold: float | None, reps: int, seed: int,
              alpha: float = 0.5) -> PadPoint:
    """Every rate at threshold ``tau`` (internal scale), with ``reps`` subject-bootstrap
    replicates drawn from ``seed`` (0: none); ``alpha`` weighs APCER against BPCER in the
    :data:`COMBINED` summaries."""
    counts = unit_counts(data, tau, comparison_threshold)
    errors, trials, blocks = _columns(counts, data)
    boot = None
    if reps > 0:
        boot = bootstrap_rates(data.unit_group, errors, trials, reps, seed)
    width = len(data.groups) + 1
    rates: dict[tuple, Rate] = {}
    for b, key in enumerate(blocks):
        cols = slice(b * width, (b + 1) * width)
        rates[key] = _rate(errors[:, b * width + width - 1], trials[:, b * width + width - 1],
                           data, None if boot is None else boot[:, cols])
    apcer = [rates["apcer", s] for s in range(len(data.species_names))]
    worst = _worst(apcer, data)
    iapmr = rates.get(("iapmr",))
    supported = target is None or all(
        r.overall_trials >= required_attacks(target) for r in apcer)
    groups_supported = group_support(apcer, target)
    families = {"bpcer": family("bpcer", rates["bpcer",]),
                "apcer": family("apcer", worst.rate, groups_supported)}
    if iapmr is not None:
        families["iapmr"] = family("iapmr", iapmr)
    return PadPoint(
        label=point_label(target), apcer_target=target, threshold=data.external(tau),
        supported=supported, groups_supported=groups_supported, bpcer=rates["bpcer",],
        apcer=apcer, worst=worst, iapmr=iapmr, families=families,
        combined=combined(families["apcer"], worst.rate, rates["bpcer",], alpha),
    )


@dataclass(frozen=True)
class PadRates:
    """Everything the PAD audit computes."""

    data: PadData
    points: list[PadPoint]
    comparison_threshold: float | None  # on the comparison score's own scale


def pad_rates(data: PadData, *, targets: tuple[float, ...] | list[float] = APCER_TARGETS,
              given_threshold: float | None = None, comparison_threshold: float | None = None,
              reps: int = 1000, seed: int = 0, alpha: float = 0.5) -> PadRates:
    """The operating points: BPCER at each APCER target (a global threshold each), then the
    ``given_threshold`` (a vendor's own, on the input's scale) if any. ``comparison_threshold``
    (on the comparison score's own scale) turns on IAPMR."""
    if len(data.groups) < 2:
        raise InputDataError(f"a PAD audit compares groups: the table has "
                             f"{len(data.groups)} group(s); it needs 2+")
    internal_cmp = None
    if comparison_threshold is not None:
        internal_cmp = (-comparison_threshold if data.comparison_lower_is_better
                        else comparison_threshold)
    points = [pad_point(data, apcer_threshold(data, t), t, internal_cmp, reps, seed, alpha)
              for t in targets]
    if given_threshold is not None:
        points.append(pad_point(data, data.internal(given_threshold), None, internal_cmp,
                                reps, seed, alpha))
    return PadRates(data, points, comparison_threshold)
