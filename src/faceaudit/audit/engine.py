"""The audit engine: from a :class:`ScoreSet` (or a rates table) to the report's result sections.

Produces the ``groups``, ``targets``, ``per_group``, ``det``, ``histograms`` and pair counts of
``report.json`` (schema in docs/report-schema.md), with identity-bootstrap intervals.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from faceaudit.audit import fairness, metrics
from faceaudit.audit.bootstrap import bootstrap_with_pairs, percentile_interval
from faceaudit.audit.estimates import (
    MIN_IDENTITIES,
    clean,
    clopper_pearson_upper,
    estimate,
    rate_estimate,
)
from faceaudit.audit.scoring import ScoreSet

COARSE_BINS = 100


@dataclass
class AuditSettings:
    """Knobs of one audit: target FMRs, bootstrap replicates, seed, α and interval level."""

    targets: Sequence[float] = (1e-2, 1e-3, 1e-4)
    reps: int = 1000
    seed: int = 0
    alpha: float = 0.5
    confidence: float = 0.95
    min_identities: int = MIN_IDENTITIES


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


def _summary_note(key: str, value: float) -> str | None:
    if math.isinf(value):
        return f"{key}: the smallest group value is 0, so the ratio is infinite"
    if math.isnan(value):
        return f"{key}: undefined (all group values are 0)"
    return None


# Summaries that need each group's FMR (accuracy = 1 - (FMR + FNMR) / 2 included) and those
# that need FNMR only: the latter keep every group with genuine comparisons.
FNMR_ONLY = ("fnmr_ratio", "fnmr_difference")
WITH_FMR = tuple(k for k in fairness.SUMMARY_KEYS if k not in FNMR_ONLY)


def summary_estimates(
    point: dict[str, np.ndarray],
    replicates: dict[str, np.ndarray] | None,
    confidence: float,
    groups: list[str] | None = None,
) -> dict[str, dict]:
    """Summary estimates with notes, intervals from replicates when given, and the groups
    they were computed over (``groups``)."""
    out = {}
    for key in fairness.SUMMARY_KEYS:
        if key not in point:
            continue
        value = float(point[key])
        low = high = None
        if replicates is not None and key in replicates:
            low, high = percentile_interval(replicates[key], confidence)
        entry = estimate(value, low, high, _summary_note(key, value))
        entry.setdefault("note", None)
        if groups is not None:
            entry["groups"] = list(groups)
        out[key] = entry
    return out


def missing_summaries(keys: Sequence[str], note: str) -> dict[str, dict]:
    """Summaries that could not be computed, each with the cause (the gate quotes it)."""
    return {k: {**estimate(None, note=note), "groups": []} for k in keys}


class _Columns:
    """Named (errors, comparisons) columns over units, for one bootstrap run."""

    def __init__(self) -> None:
        self.errors: list[np.ndarray] = []
        self.comparisons: list[np.ndarray] = []
        self.index: dict[tuple, int] = {}

    def add(self, key: tuple, errors: np.ndarray, comparisons: np.ndarray) -> None:
        self.index[key] = len(self.errors)
        self.errors.append(errors)
        self.comparisons.append(comparisons)


def _coarse_histograms(scores: ScoreSet, imp_within, gen_within) -> dict | None:
    groups = scores.groups
    occupied = np.flatnonzero(np.sum(imp_within, axis=0) + np.sum(gen_within, axis=0))
    if occupied.size == 0:
        return None
    lo, hi = int(occupied[0]), int(occupied[-1]) + 1
    # coarse bins evenly spaced in score (the fine edges of a scores table are not)
    top = scores.edges[hi] if hi < scores.n_bins else scores.beyond
    wanted = np.linspace(scores.edges[lo], top, COARSE_BINS + 1)
    edges = np.unique(np.clip(np.searchsorted(scores.edges, wanted), lo, hi))
    edges = np.unique(np.r_[lo, edges, hi])

    def coarse(h: np.ndarray) -> list[int]:
        return np.add.reduceat(h[lo:hi], edges[:-1] - lo).tolist()

    values = [float(e) for e in scores.value(edges)]
    flip = (lambda x: x[::-1]) if not scores.higher_is_better else (lambda x: x)
    return {
        "bin_edges": flip(values),
        "groups": [
            {
                "group": g,
                "genuine": flip(coarse(gen_within[i])),
                "impostor": flip(coarse(imp_within[i])),
            }
            for i, g in enumerate(groups)
        ],
    }


def analyse_scores(
    scores: ScoreSet, settings: AuditSettings, weights: np.ndarray | None = None
) -> EngineResult:
    """Thresholds, per-group and cross-group rates, summaries, EER, DET, histograms, intervals.

    ``weights`` (``(settings.reps, U)`` over ``scores.unit_group``, see
    :func:`~faceaudit.audit.bootstrap.draw_weights`) fixes the resampled identities instead of
    drawing them from ``settings.seed``.
    """
    groups, G = scores.groups, len(scores.groups)
    warnings: list[str] = []
    H = scores.impostor_hist
    imp_within = H[np.arange(G), np.arange(G)]
    within = scores.genuine_group_a == scores.genuine_group_b
    NB = scores.n_bins
    gen_within = np.zeros((G, NB), np.int64)
    np.add.at(gen_within, (scores.genuine_group_a[within], scores.genuine_bins[within]), 1)
    overall = np.triu(np.ones((G, G), dtype=bool))
    all_imp = H[overall].sum(axis=0)
    n_imp, n_gen = imp_within.sum(axis=1), gen_within.sum(axis=1)
    n_cross = H.sum(axis=2)
    tail = np.cumsum(H[..., ::-1], axis=2)[..., ::-1]  # matches at each bin, per group pair
    head_gen = np.cumsum(gen_within, axis=1)
    for g, name in enumerate(groups):
        if n_gen[g] == 0:
            warnings.append(f"group {name!r} has no genuine comparisons: no FNMR or EER for it")
        if n_imp[g] == 0:
            warnings.append(f"group {name!r} has no impostor comparisons: no FMR for it")

    def fmr_at(a: int, b: int, k: int) -> float:
        return (
            tail[a, b, k] / n_cross[a, b]
            if k < NB and n_cross[a, b]
            else (0.0 if n_cross[a, b] else math.nan)
        )

    def fnmr_at(g: int, k: int) -> float:
        if not n_gen[g]:
            return math.nan
        return (head_gen[g, k - 1] if k > 0 else 0) / n_gen[g]

    # Point estimates per target.
    plan: list[tuple[float, bool, int | None]] = []  # k is None where unsupported
    for t in settings.targets:
        supported = bool(all_imp.sum()) and metrics.supports(int(all_imp.sum()), t)
        k = scores.threshold_bin(None, t, all_imp) if supported else None
        if not supported:
            warnings.append(
                f"target FMR {t:g} is unsupported: {int(all_imp.sum())} impostor comparisons, "
                f"the rule of three needs {metrics.required_pairs(t)}"
            )
        plan.append((t, supported, k))
    eers = [
        metrics.eer(imp_within[g], gen_within[g]) if n_imp[g] and n_gen[g] else (math.nan, -1)
        for g in range(G)
    ]

    # Bootstrap replicates of every rate at the fixed thresholds.
    reps: dict[tuple, np.ndarray] = {}
    kset = sorted({k for _, _, k in plan if k is not None} | {k for _, k in eers if k >= 0})
    if settings.reps > 0 and scores.counter is None:
        warnings.append("no identities in the input: intervals need identities, none given")
    impostor_bootstrap = None
    if settings.reps > 0 and scores.counter is not None and kset:
        target_ks = sorted({k for _, _, k in plan if k is not None})
        matches, comparisons, pairs = scores.counter(
            np.asarray(kset), np.asarray(target_ks) if target_ks else None
        )
        unit_group = scores.unit_group
        U = len(unit_group)
        gw_unit = scores.genuine_unit[within]
        gw_bins = scores.genuine_bins[within]
        gen_n = np.bincount(gw_unit, minlength=U)
        cols = _Columns()
        member = [unit_group == g for g in range(G)]
        for ki, k in enumerate(kset):
            gen_err = np.bincount(gw_unit[gw_bins < k], minlength=U)
            for a in range(G):
                cols.add(("fnmr", a, k), gen_err * member[a], gen_n * member[a])
                for b in range(G):
                    errors = matches[:, b, ki] * member[a]
                    cols.add(("fmr", a, b, k), errors, comparisons[:, b] * member[a])
        boot, two_way = bootstrap_with_pairs(
            unit_group,
            np.stack(cols.errors, 1),
            np.stack(cols.comparisons, 1),
            settings.reps,
            settings.seed,
            pairs,
            G,
            weights,
        )
        reps = {key: boot[:, i] for key, i in cols.index.items()}
        # An impostor comparison involves two identities. Counting it once for each side and
        # resampling linearly moves the rate by half of what resampling both identities does
        # (weights w_a * w_b, linearised: (w_a - 1) + (w_b - 1)); add both sides' deviations.
        for k in kset:
            one_sided = {(a, b): reps[("fmr", a, b, k)] for a in range(G) for b in range(G)}
            for a in range(G):
                for b in range(G):
                    both = one_sided[a, b] + one_sided[b, a] - fmr_at(a, b, k)
                    reps[("fmr", a, b, k)] = np.clip(both, 0.0, 1.0)
        # At the target thresholds: the two-way (pigeonhole) bootstrap, each impostor pair
        # weighted by the product of both identities' multiplicities (exact, not linearised).
        impostor_bootstrap = "linearised"
        if two_way is not None:
            impostor_bootstrap = "two-way"
            for ki, k in enumerate(target_ks):
                for a in range(G):
                    for b in range(G):
                        reps[("fmr", a, b, k)] = two_way[:, a, b, ki]
        elif target_ks:
            warnings.append(
                "too many impostor pairs of identities above the lowest threshold to hold for "
                "the two-way bootstrap: FMR intervals use its linearised form (narrower)"
            )

    def interval(key: tuple) -> tuple[float | None, float | None]:
        if key not in reps:
            return None, None
        low, high = percentile_interval(reps[key], settings.confidence)
        return float(low), float(high)

    # Identities behind each group's rates (None when the input names no identities).
    gen_ids: list[int | None] = [None] * G
    if scores.counter is not None:
        wa, wu = scores.genuine_group_a[within], scores.genuine_unit[within]
        gen_ids = [len(np.unique(wu[wa == g])) for g in range(G)]
    imp_ids: list[int | None] = (
        [int(x) for x in scores.impostor_identities]
        if scores.impostor_identities is not None
        else [None] * G
    )

    def rate(kind: str, g: int, k: int, value: float | None, note: str) -> dict:
        key = ("fmr", g, g, k) if kind == "fmr" else ("fnmr", g, k)
        if kind == "fmr":
            errors = int(tail[g, g, k]) if k < NB else 0
            n, ids = int(n_imp[g]), imp_ids[g]
        else:
            errors, n, ids = int(head_gen[g, k - 1]) if k > 0 else 0, int(n_gen[g]), gen_ids[g]
        est = rate_estimate(
            value,
            reps.get(key) if value is not None else None,
            errors=errors if value is not None else None,
            comparisons=n,
            identities=ids,
            confidence=settings.confidence,
            min_identities=settings.min_identities,
            note=note,
        )
        name = groups[g]
        if est["undefined_replicates"]:
            warnings.append(
                f"{kind.upper()} of {name!r} at FMR {t:g}: {est['undefined_replicates']} of "
                f"{settings.reps} bootstrap replicates were undefined (no comparisons drawn); "
                "the interval uses the others"
            )
        if est["small_sample"]:
            small.append(f"{kind.upper()} of {name!r} ({ids} identities)")
        return est

    replicates: dict[tuple, np.ndarray] = {}
    targets = []
    for t, supported, k in plan:
        entry: dict[str, Any] = {
            "target_fmr": t,
            "threshold": scores.value(k) if k is not None else None,
            "supported": supported,
            "required_pairs": metrics.required_pairs(t),
            "achieved_fmr": clean(all_imp[k:].sum() / all_imp.sum()) if supported else None,
            "groups": [],
            "cross_fmr": None,
            "summaries": {},
            "summary_groups": None,
        }
        if not supported:
            entry["summaries"] = missing_summaries(
                fairness.SUMMARY_KEYS,
                f"target FMR {t:g} is unsupported: {int(all_imp.sum()):,} impostor comparisons "
                f"in all, the rule of three needs {metrics.required_pairs(t):,}",
            )
            targets.append(entry)
            continue
        assert k is not None  # a supported target has its threshold bin
        small: list[str] = []
        fmr_left_out, fnmr_left_out = {}, {}
        for g, name in enumerate(groups):
            g_supported = metrics.supports(int(n_imp[g]), t) if n_imp[g] else False
            if not n_imp[g]:
                fmr_left_out[g] = "no impostor comparisons"
            elif not g_supported:
                fmr_left_out[g] = (
                    f"{int(n_imp[g]):,} impostor pairs; the rule of three needs "
                    f"{metrics.required_pairs(t):,}"
                )
            if not n_gen[g]:
                fnmr_left_out[g] = "no genuine comparisons"
                fmr_left_out.setdefault(g, "no genuine comparisons")
            fmr = fmr_at(g, g, k) if g_supported else None
            fnmr = fnmr_at(g, k)
            kg = scores.threshold_bin(g, t, imp_within[g]) if g_supported else None
            acc = 1 - (fmr + fnmr) / 2 if fmr is not None else None
            acc_ci: tuple[Any, Any] = (None, None)
            if fmr is not None and ("fmr", g, g, k) in reps:
                acc_ci = percentile_interval(
                    1 - (reps[("fmr", g, g, k)] + reps[("fnmr", g, k)]) / 2, settings.confidence
                )
            fmr_est = rate(
                "fmr", g, k, fmr, fmr_left_out.get(g, "fewer impostor comparisons than needed")
            )
            fnmr_est = rate("fnmr", g, k, clean(fnmr), "no genuine comparisons")
            if ("fnmr", g, k) in reps:
                replicates[t, "fnmr", name] = reps[("fnmr", g, k)]
                if fmr is not None:
                    replicates[t, "fmr", name] = reps[("fmr", g, g, k)]
                    replicates[t, "accuracy", name] = (
                        1 - (reps[("fmr", g, g, k)] + reps[("fnmr", g, k)]) / 2
                    )
            entry["groups"].append(
                {
                    "group": name,
                    "supported": g_supported,
                    "fmr": fmr_est,
                    "fnmr": fnmr_est,
                    "accuracy": estimate(acc, *acc_ci, note="needs both FMR and FNMR"),
                    "group_threshold": scores.value(kg) if kg is not None else None,
                    "fnmr_at_group_threshold": clean(fnmr_at(g, kg)) if kg is not None else None,
                    "impostor_pairs": int(n_imp[g]),
                    "genuine_pairs": int(n_gen[g]),
                    "impostor_identities": imp_ids[g],
                    "genuine_identities": gen_ids[g],
                    "small_sample": bool(fmr_est["small_sample"] or fnmr_est["small_sample"]),
                }
            )
        if small:
            warnings.append(
                f"at FMR {t:g}, rates resting on fewer than {settings.min_identities} "
                f"identities (flagged small_sample): {', '.join(small)}"
            )
        cross_ok = [
            [metrics.supports(int(n_cross[a, b]), t) if n_cross[a, b] else False for b in range(G)]
            for a in range(G)
        ]
        ci = [[interval(("fmr", a, b, k)) for b in range(G)] for a in range(G)]
        for a in range(G):  # no false match in a cell: the exact one-sided bound, not [0, 0]
            for b in range(G):
                if cross_ok[a][b] and (k >= NB or tail[a, b, k] == 0):
                    n = int(n_cross[a, b])
                    ci[a][b] = (0.0, clopper_pearson_upper(n, settings.confidence))
        entry["cross_fmr"] = {
            "groups": list(groups),
            "fmr": [
                [clean(fmr_at(a, b, k)) if cross_ok[a][b] else None for b in range(G)]
                for a in range(G)
            ],
            "low": [
                [clean(ci[a][b][0]) if cross_ok[a][b] else None for b in range(G)] for a in range(G)
            ],
            "high": [
                [clean(ci[a][b][1]) if cross_ok[a][b] else None for b in range(G)] for a in range(G)
            ],
            "impostor_pairs": n_cross.astype(int).tolist(),
            "supported": cross_ok,
        }
        with_fmr = [g for g in range(G) if g not in fmr_left_out]
        fnmr_only = [g for g in range(G) if g not in fnmr_left_out]
        entry["summary_groups"] = {
            "with_fmr": {
                "summaries": list(WITH_FMR),
                "groups": [groups[g] for g in with_fmr],
                "left_out": [{"group": groups[g], "reason": r} for g, r in fmr_left_out.items()],
            },
            "fnmr_only": {
                "summaries": list(FNMR_ONLY),
                "groups": [groups[g] for g in fnmr_only],
                "left_out": [{"group": groups[g], "reason": r} for g, r in fnmr_left_out.items()],
            },
        }
        summaries: dict[str, dict] = {}
        for keys, members, left_out in (
            (WITH_FMR, with_fmr, fmr_left_out),
            (FNMR_ONLY, fnmr_only, fnmr_left_out),
        ):
            reasons = "; ".join(f"{groups[g]}: {r}" for g, r in left_out.items())
            if len(members) < 2:
                cause = (
                    f"needs two groups with these rates at FMR {t:g}; "
                    f"{len(members)} qualify ({reasons})"
                )
                summaries.update(missing_summaries(keys, cause))
                warnings.append(f"at FMR {t:g}: no {', '.join(keys[:2])}… summaries: {cause}")
                continue
            if left_out:
                warnings.append(
                    f"at FMR {t:g}: {', '.join(keys)} are over "
                    f"{', '.join(groups[g] for g in members)} only; left out: {reasons}"
                )
            fm = np.array([fmr_at(g, g, k) for g in members]) if keys is WITH_FMR else None
            fn = np.array([fnmr_at(g, k) for g in members])
            acc = 1 - (fm + fn) / 2 if fm is not None else None
            point = fairness.summaries(fm, fn, acc, settings.alpha)
            rep_summ = None
            if reps:
                rn = np.stack([reps[("fnmr", g, k)] for g in members], axis=1)
                rf = (
                    np.stack([reps[("fmr", g, g, k)] for g in members], axis=1)
                    if fm is not None
                    else None
                )
                racc = 1 - (rf + rn) / 2 if rf is not None else None
                rep_summ = fairness.summaries(rf, rn, racc, settings.alpha)
                replicates.update({(t, "summary", key): rep_summ[key] for key in keys})
            wanted = {key: point[key] for key in keys if key in point}
            summaries.update(
                summary_estimates(
                    wanted, rep_summ, settings.confidence, [groups[g] for g in members]
                )
            )
        entry["summaries"] = {key: summaries[key] for key in fairness.SUMMARY_KEYS}
        for value in entry["summaries"].values():
            if value["value"] is not None and value["note"]:
                warnings.append(f"at FMR {t:g}: {value['note']}")
        targets.append(entry)

    per_group, det = [], []
    for g, name in enumerate(groups):
        value, k = eers[g]
        low = high = None
        if k >= 0 and ("fmr", g, g, k) in reps:
            low, high = percentile_interval(
                (reps[("fmr", g, g, k)] + reps[("fnmr", g, k)]) / 2, settings.confidence
            )
        per_group.append(
            {
                "group": name,
                "eer": estimate(value, low, high, note="needs genuine and impostor comparisons"),
                "eer_threshold": scores.value(k) if k >= 0 else None,
            }
        )
        if n_imp[g] and n_gen[g]:
            ks, det_fmr, det_fnmr = metrics.det_points(imp_within[g], gen_within[g])
            det.append(
                {
                    "group": name,
                    "threshold": [float(x) for x in scores.value(ks)],
                    "fmr": det_fmr.tolist(),
                    "fnmr": det_fnmr.tolist(),
                }
            )
    sections = {
        "groups": list(groups),
        "targets": targets,
        "per_group": per_group,
        "det": det,
        "histograms": _coarse_histograms(scores, imp_within, gen_within),
        "impostor_bootstrap": impostor_bootstrap,
        "pairs": {
            "genuine": int(len(scores.genuine_bins)),
            "impostor": int(all_imp.sum()),
            "groups": {
                name: {"genuine_pairs": int(n_gen[g]), "impostor_pairs": int(n_imp[g])}
                for g, name in enumerate(groups)
            },
        },
    }
    return EngineResult(sections, warnings, replicates)


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
