"""The 1:1 audit's numbers, presented: a :class:`~faceaudit.audit.rates.ScoreRates` as the
``groups``, ``targets``, ``per_group``, ``det``, ``histograms``, ``impostor_bootstrap`` and
``pairs`` sections of ``report.json`` (schema in docs/report-schema.md), and the warnings that
say in words what the numbers cannot.

Nothing here computes a rate: the estimate objects (value, interval, the sample behind it)
come from :mod:`faceaudit.audit.estimates`, the numbers from :mod:`faceaudit.audit.rates`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from faceaudit.audit import fairness, metrics
from faceaudit.audit.bootstrap import percentile_interval
from faceaudit.audit.estimates import (
    clean,
    estimate,
    interval_of_ratio,
    rate_estimate,
    with_ratio_interval,
)
from faceaudit.audit.gate_rules import max_min_ratio
from faceaudit.audit.intervals import rate_interval, zero_eer_bound
from faceaudit.audit.rates import (
    FEW_IMPOSTOR,
    CoarseHistograms,
    DetCurve,
    ScoreRates,
    SummaryFamily,
    TargetRates,
    ThresholdRates,
)
from faceaudit.audit.settings import AuditSettings


def _summary_note(key: str, value: float) -> str | None:
    if math.isinf(value):
        return f"{key}: the smallest group value is 0, so the ratio is infinite"
    if math.isnan(value):
        return f"{key}: undefined (all group values are 0)"
    return None


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
        entry["interval"] = "percentile" if entry["low"] is not None else None
        if groups is not None:
            entry["groups"] = list(groups)
        out[key] = entry
    return out


def missing_summaries(keys: Sequence[str], note: str) -> dict[str, dict]:
    """Summaries that could not be computed, each with the cause (the gate quotes it)."""
    return {k: {**estimate(None, note=note), "groups": []} for k in keys}


def data_warnings(rates: ScoreRates) -> list[str]:
    """What the data leave out, before any target: groups without genuine or impostor
    comparisons, unsupported targets, intervals without identities, the narrower FMR
    bootstrap."""
    warnings = []
    tallies = rates.tallies
    for g, name in enumerate(rates.groups):
        if tallies.genuine_pairs[g] == 0:
            warnings.append(f"group {name!r} has no genuine comparisons: no FNMR or EER for it")
        if tallies.impostor_pairs[g] == 0:
            warnings.append(f"group {name!r} has no impostor comparisons: no FMR for it")
    for target in rates.targets:
        if target.at is None:
            warnings.append(
                f"target FMR {target.target_fmr:g} is unsupported: "
                f"{int(tallies.impostor_all.sum())} impostor comparisons, "
                f"the rule of three needs {target.required_pairs}"
            )
    if rates.no_identities:
        warnings.append("no identities in the input: intervals need identities, none given")
    if rates.bootstrap is not None and rates.bootstrap.two_way_refused:
        warnings.append(
            "too many impostor pairs of identities above the lowest threshold to hold for "
            "the two-way bootstrap: FMR intervals use its linearised form (narrower)"
        )
    return warnings


def left_out_reasons(
    rates: ScoreRates, family: SummaryFamily, required_pairs: int
) -> dict[int, str]:
    """Why each group left out of ``family`` is, in words (with the counts)."""
    out = {}
    for g, why in family.left_out.items():
        if why == FEW_IMPOSTOR:
            why = (
                f"{int(rates.tallies.impostor_pairs[g]):,} impostor pairs; the rule of three "
                f"needs {required_pairs:,}"
            )
        out[g] = why
    return out


def group_entry(
    rates: ScoreRates,
    at: ThresholdRates,
    g: int,
    fmr_note: str,
    settings: AuditSettings,
) -> dict[str, Any]:
    """One group's row of a ``targets`` entry: FMR, FNMR and accuracy with their intervals,
    its own threshold, and the sample behind them."""
    tallies = rates.tallies
    reps = at.replicates
    fmr = at.point.values("fmr")[g] if at.group_supported[g] else None
    fnmr = clean(at.point.values("fnmr")[g])
    fmr_est = rate_estimate(
        fmr,
        reps.values("fmr")[:, g] if reps is not None and fmr is not None else None,
        errors=int(at.false_matches[g, g]) if fmr is not None else None,
        comparisons=int(tallies.impostor_pairs[g]),
        identities=tallies.impostor_identities[g],
        confidence=settings.confidence,
        min_identities=settings.min_identities,
        note=fmr_note,
    )
    fnmr_est = rate_estimate(
        fnmr,
        reps.values("fnmr")[:, g] if reps is not None and fnmr is not None else None,
        errors=int(at.false_non_matches[g]) if fnmr is not None else None,
        comparisons=int(tallies.genuine_pairs[g]),
        identities=tallies.genuine_identities[g],
        confidence=settings.confidence,
        min_identities=settings.min_identities,
        note="no genuine comparisons",
    )
    accuracy = at.point.values("accuracy")[g] if fmr is not None else None
    acc_ci: tuple[Any, Any] = (None, None)
    if accuracy is not None and reps is not None:
        got = rate_interval(
            float(accuracy), reps.values("accuracy")[:, g], errors=None, comparisons=None,
            identities=tallies.impostor_identities[g], confidence=settings.confidence,
        )
        acc_ci = (got.low, got.high)
    return {
        "group": rates.groups[g],
        "supported": bool(at.group_supported[g]),
        "fmr": fmr_est,
        "fnmr": fnmr_est,
        "accuracy": estimate(accuracy, *acc_ci, note="needs both FMR and FNMR"),
        "group_threshold": at.group_thresholds[g],
        "fnmr_at_group_threshold": clean(at.point.values("fnmr_at_group_threshold")[g]),
        "impostor_pairs": int(tallies.impostor_pairs[g]),
        "genuine_pairs": int(tallies.genuine_pairs[g]),
        "impostor_identities": tallies.impostor_identities[g],
        "genuine_identities": tallies.genuine_identities[g],
        "small_sample": bool(fmr_est["small_sample"] or fnmr_est["small_sample"]),
    }


def sample_warnings(
    rows: list[dict[str, Any]], target_fmr: float, settings: AuditSettings
) -> list[str]:
    """Rates with undefined bootstrap replicates, then those resting on few identities."""
    warnings, small = [], []
    for row in rows:
        for kind in ("fmr", "fnmr"):
            est = row[kind]
            if est["undefined_replicates"]:
                warnings.append(
                    f"{kind.upper()} of {row['group']!r} at FMR {target_fmr:g}: "
                    f"{est['undefined_replicates']} of {settings.reps} bootstrap replicates "
                    "were undefined (no comparisons drawn); the interval uses the others"
                )
            if est["small_sample"]:
                small.append(f"{kind.upper()} of {row['group']!r} ({est['identities']} identities)")
    if small:
        warnings.append(
            f"at FMR {target_fmr:g}, rates resting on fewer than {settings.min_identities} "
            f"identities (flagged small_sample): {', '.join(small)}"
        )
    return warnings


def _supported_grid(values: list[list[Any]], ok: np.ndarray) -> list[list[float | None]]:
    """``values`` as JSON numbers where ``ok``, ``None`` elsewhere."""
    return [
        [clean(v) if ok[a, b] else None for b, v in enumerate(row)] for a, row in enumerate(values)
    ]


def cross_fmr_section(rates: ScoreRates, at: ThresholdRates, confidence: float) -> dict:
    """FMR of every pair of groups with its interval
    (:func:`~faceaudit.audit.intervals.rate_interval`: an exact one-sided bound where a cell
    saw no false match); ``None`` in the cells too small for the target."""
    G = len(rates.groups)
    ok = at.cross_supported
    n_cross = rates.tallies.cross_pairs
    ids = rates.tallies.impostor_identities
    ci: list[list[tuple[float | None, float | None]]] = [[(None, None)] * G for _ in range(G)]
    for a in range(G):
        for b in range(G):
            if not ok[a, b]:
                continue
            known = [i for i in (ids[a], ids[b]) if i is not None]
            got = rate_interval(
                float(at.cross_fmr[a, b]),
                at.cross_replicates[:, a, b] if at.cross_replicates is not None else None,
                errors=int(at.false_matches[a, b]), comparisons=int(n_cross[a, b]),
                identities=min(known) if known else None, confidence=confidence,
            )
            ci[a][b] = (got.low, got.high)

    return {
        "groups": list(rates.groups),
        "fmr": _supported_grid(at.cross_fmr.tolist(), ok),
        "low": _supported_grid([[cell[0] for cell in row] for row in ci], ok),
        "high": _supported_grid([[cell[1] for cell in row] for row in ci], ok),
        "impostor_pairs": n_cross.astype(int).tolist(),
        "supported": ok.tolist(),
    }


def ratio_intervals(summaries: dict[str, dict], rows: list[dict[str, Any]],
                    ratios: dict[str, str]) -> dict[str, dict]:
    """``summaries`` with each max/min ratio's interval (``ratios``: summary key → the rate
    of the rows it is over) recomputed on the log scale from the groups' own intervals."""
    out = dict(summaries)
    for key, rate in ratios.items():
        entry = out.get(key)
        if entry is None or not entry.get("groups"):
            continue
        over = [row[rate] for row in rows if row["group"] in entry["groups"]]
        out[key] = with_ratio_interval(entry, over, interval_of_ratio(key))
    return out


def summary_sections(
    rates: ScoreRates, target: TargetRates, at: ThresholdRates, confidence: float,
    rows: list[dict[str, Any]] | None = None,
) -> tuple[dict, dict, list[str]]:
    """``summary_groups`` and ``summaries`` of a supported target, and the warnings naming
    the groups each family of summaries is over or could not be; the ratios' intervals come
    from the group ``rows`` (:func:`ratio_intervals`)."""
    groups, t = rates.groups, target.target_fmr
    summary_groups: dict[str, dict] = {}
    summaries: dict[str, dict] = {}
    warnings = []
    for name, family in (("with_fmr", at.with_fmr), ("fnmr_only", at.fnmr_only)):
        reasons = left_out_reasons(rates, family, target.required_pairs)
        summary_groups[name] = {
            "summaries": list(family.keys),
            "groups": [groups[g] for g in family.members],
            "left_out": [{"group": groups[g], "reason": r} for g, r in reasons.items()],
        }
        listed = "; ".join(f"{groups[g]}: {r}" for g, r in reasons.items())
        keys = family.keys
        if family.point is None:
            cause = (
                f"needs two groups with these rates at FMR {t:g}; "
                f"{len(family.members)} qualify ({listed})"
            )
            summaries.update(missing_summaries(keys, cause))
            warnings.append(f"at FMR {t:g}: no {', '.join(keys[:2])}… summaries: {cause}")
            continue
        if reasons:
            warnings.append(
                f"at FMR {t:g}: {', '.join(keys)} are over "
                f"{', '.join(groups[g] for g in family.members)} only; left out: {listed}"
            )
        wanted = {key: family.point[key] for key in keys if key in family.point}
        summaries.update(
            summary_estimates(
                wanted, family.replicates, confidence, [groups[g] for g in family.members]
            )
        )
    if rows is not None:
        summaries = ratio_intervals(summaries, rows, {
            "fmr_ratio": "fmr", "fnmr_ratio": "fnmr",
            "fmr_max_geomean": "fmr", "fnmr_max_geomean": "fnmr"})
    ordered = {key: summaries[key] for key in fairness.SUMMARY_KEYS}
    for value in ordered.values():
        if value["value"] is not None and value["note"]:
            warnings.append(f"at FMR {t:g}: {value['note']}")
    return summary_groups, ordered, warnings


def target_entry(
    rates: ScoreRates, target: TargetRates, settings: AuditSettings
) -> tuple[dict[str, Any], list[str]]:
    """One ``targets`` entry and its warnings."""
    t, at = target.target_fmr, target.at
    entry: dict[str, Any] = {
        "target_fmr": t,
        "threshold": at.threshold if at is not None else None,
        "supported": at is not None,
        "required_pairs": target.required_pairs,
        "achieved_fmr": clean(at.point.overall["fmr"]) if at is not None else None,
        "groups": [],
        "cross_fmr": None,
        "summaries": {},
        "summary_groups": None,
    }
    if at is None:
        entry["summaries"] = missing_summaries(
            fairness.SUMMARY_KEYS,
            f"target FMR {t:g} is unsupported: {int(rates.tallies.impostor_all.sum()):,} "
            f"impostor comparisons in all, the rule of three needs {target.required_pairs:,}",
        )
        return entry, []
    fmr_notes = left_out_reasons(rates, at.with_fmr, target.required_pairs)
    entry["groups"] = [
        group_entry(
            rates, at, g, fmr_notes.get(g, "fewer impostor comparisons than needed"), settings
        )
        for g in range(len(rates.groups))
    ]
    warnings = sample_warnings(entry["groups"], t, settings)
    entry["cross_fmr"] = cross_fmr_section(rates, at, settings.confidence)
    entry["summary_groups"], entry["summaries"], notes = summary_sections(
        rates, target, at, settings.confidence, entry["groups"]
    )
    return entry, warnings + notes


def per_group_section(rates: ScoreRates, confidence: float) -> list[dict]:
    """Each group's EER with its interval (:func:`~faceaudit.audit.intervals.rate_interval`;
    an EER of 0 gets the exact one-sided bound of
    :func:`~faceaudit.audit.intervals.zero_eer_bound`) and threshold."""
    out = []
    tallies = rates.tallies
    for g, name in enumerate(rates.groups):
        threshold = rates.eer_thresholds[g]
        value = float(rates.eer.values("eer")[g])
        low = high = None
        if threshold is not None and value == 0.0:
            low = 0.0
            high = zero_eer_bound(int(tallies.impostor_pairs[g]), int(tallies.genuine_pairs[g]),
                                  confidence)
        elif threshold is not None and rates.eer_replicates is not None:
            known = [i for i in (tallies.impostor_identities[g], tallies.genuine_identities[g])
                     if i is not None]
            got = rate_interval(value, rates.eer_replicates[:, g], errors=None,
                                comparisons=None, identities=min(known) if known else None,
                                confidence=confidence)
            low, high = got.low, got.high
        out.append(
            {
                "group": name,
                "eer": estimate(
                    value, low, high,
                    note="needs genuine and impostor comparisons",
                ),
                "eer_threshold": threshold,
            }
        )
    return out


def operating_point_rows(rates: ScoreRates, k: int, target: float,
                         settings: AuditSettings) -> list[dict[str, Any]]:
    """Each group's FMR (where it supports ``target``) and FNMR at threshold bin ``k``, with
    intervals, as in a ``targets`` entry."""
    tallies, boot = rates.tallies, rates.bootstrap
    G = len(rates.groups)
    supported = [bool(n) and metrics.supports(int(n), target) for n in tallies.impostor_pairs]
    rows = []
    for g, name in enumerate(rates.groups):
        n_imp, n_gen = int(tallies.impostor_pairs[g]), int(tallies.genuine_pairs[g])
        false_matches = int(tallies.false_matches(k)[g, g])
        misses = int(tallies.false_non_matches(k)[g])
        fmr = false_matches / n_imp if supported[g] else None
        fnmr = misses / n_gen if n_gen else None
        rows.append({
            "group": name,
            "supported": supported[g],
            "fmr": rate_estimate(
                fmr, boot.fmr[k][:, g, g] if boot is not None and fmr is not None else None,
                errors=false_matches if fmr is not None else None, comparisons=n_imp,
                identities=tallies.impostor_identities[g], confidence=settings.confidence,
                min_identities=settings.min_identities,
                note="too few impostor comparisons for the target"),
            "fnmr": rate_estimate(
                fnmr, boot.fnmr[k][:, g] if boot is not None and fnmr is not None else None,
                errors=misses if fnmr is not None else None, comparisons=n_gen,
                identities=tallies.genuine_identities[g], confidence=settings.confidence,
                min_identities=settings.min_identities, note="no genuine comparisons"),
        })
    assert len(rows) == G
    return rows


def operating_point_ratios(rows: list[dict[str, Any]],
                           keys: Sequence[tuple[str, str]] = (("fmr_ratio", "fmr"),
                                                              ("fnmr_ratio", "fnmr")),
                           ) -> dict[str, dict]:
    """``fmr_ratio`` and ``fnmr_ratio`` (or the ``(ratio, rate)`` ``keys``) over the rows
    with the rate, with their intervals."""
    out = {}
    for key, rate in keys:
        over = [r for r in rows if r[rate]["value"] is not None]
        values = [r[rate]["value"] for r in over]
        ratio = max_min_ratio(values) if len(values) >= 2 else None
        entry = estimate(ratio if ratio is not None and math.isfinite(ratio) else None,
                         note=None if ratio is not None and math.isfinite(ratio) else
                         "needs two groups with a non-zero rate")
        entry["groups"] = [r["group"] for r in over]
        out[key] = with_ratio_interval(entry, [r[rate] for r in over]) if len(over) >= 2 \
            else {**entry, "interval": None}
    return out


def operating_points_section(rates: ScoreRates, settings: AuditSettings) -> list[dict]:
    """For each supported target: the worst-group threshold grid, each point's per-group
    rates with intervals and ratios, and the recommended threshold (``--operating-points``)."""
    out = []
    for grid in rates.worst_group:
        points = []
        for k, threshold in zip(grid.bins, grid.thresholds, strict=True):
            rows = operating_point_rows(rates, k, grid.target_fmr, settings)
            points.append({
                "threshold": threshold,
                "recommended": k == grid.recommended,
                "groups": rows,
                "summaries": operating_point_ratios(rows),
            })
        chosen = next((p for p in points if p["recommended"]), None)
        out.append({
            "target_fmr": grid.target_fmr,
            "rule": "the lowest grid threshold at which every supported group's FMR upper "
                    "bound is at most the target",
            "recommended_threshold": chosen["threshold"] if chosen else None,
            "recommended": chosen,
            "note": grid.note,
            "grid": points,
        })
    return out


def det_section(curves: list[DetCurve]) -> list[dict]:
    """The DET curves as lists, with each point's FNMR interval (``null`` lists without a
    bootstrap; ``null`` entries where a point has none)."""
    return [
        {
            "group": c.group,
            "threshold": [float(x) for x in c.thresholds],
            "fmr": c.fmr.tolist(),
            "fnmr": c.fnmr.tolist(),
            "fnmr_low": None if c.fnmr_low is None else [clean(v) for v in c.fnmr_low],
            "fnmr_high": None if c.fnmr_high is None else [clean(v) for v in c.fnmr_high],
        }
        for c in curves
    ]


def histogram_section(groups: list[str], hist: CoarseHistograms | None) -> dict | None:
    """The coarse histograms, bins in ascending order of the input's own scale."""
    if hist is None:
        return None
    step = 1 if hist.higher_is_better else -1
    return {
        "bin_edges": [float(e) for e in hist.edges][::step],
        "groups": [
            {
                "group": g,
                "genuine": hist.genuine[i].tolist()[::step],
                "impostor": hist.impostor[i].tolist()[::step],
            }
            for i, g in enumerate(groups)
        ],
    }


def score_sections(rates: ScoreRates, settings: AuditSettings) -> tuple[dict, list[str]]:
    """The result sections of the report and its warnings, in the order they arise."""
    warnings = data_warnings(rates)
    targets = []
    for target in rates.targets:
        entry, target_warnings = target_entry(rates, target, settings)
        targets.append(entry)
        warnings += target_warnings
    tallies = rates.tallies
    extra = {}
    if settings.operating_points:
        extra["operating_points"] = operating_points_section(rates, settings)
    sections = {
        "groups": list(rates.groups),
        "targets": targets,
        "per_group": per_group_section(rates, settings.confidence),
        "det": det_section(rates.det),
        "histograms": histogram_section(rates.groups, rates.histograms),
        "impostor_bootstrap": rates.bootstrap.method if rates.bootstrap is not None else None,
        "pairs": {
            "genuine": rates.genuine_total,
            "impostor": int(tallies.impostor_all.sum()),
            "groups": {
                name: {
                    "genuine_pairs": int(tallies.genuine_pairs[g]),
                    "impostor_pairs": int(tallies.impostor_pairs[g]),
                }
                for g, name in enumerate(rates.groups)
            },
        },
        **extra,
    }
    return sections, warnings
