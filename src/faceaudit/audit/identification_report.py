"""The ``identification`` section of ``report.json`` (docs/report-schema.md), presented from
the rates :mod:`faceaudit.audit.identification_rates` computes out of the per-unit counts of
:func:`faceaudit.audit.identification.run_identification`.

Rates are pooled over the repeated splits (errors / searches); intervals resample identities
within each probe group (:func:`faceaudit.audit.bootstrap.bootstrap_rates`) with the same
small-sample rules as the 1:1 audit (:func:`faceaudit.audit.estimates.rate_estimate`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from faceaudit.audit import fairness
from faceaudit.audit.bootstrap import percentile_interval
from faceaudit.audit.estimates import clean, estimate, rate_estimate
from faceaudit.audit.identification import IdentificationCounts
from faceaudit.audit.identification_grid import IdentificationGrid, worst_group_grid
from faceaudit.audit.identification_rates import (
    Composition,
    IdentificationRates,
    PointRates,
    PooledRate,
    SizeRates,
    identification_rates,
)
from faceaudit.audit.sections import (
    missing_summaries,
    operating_point_ratios,
    ratio_intervals,
    summary_estimates,
)

# 1:1 summary keys → their identification names
SUMMARY_NAMES = fairness.IDENTIFICATION_NAMES

PREDICTION_NOTE = (
    "predicted from each group's 1:1 false match rate against enrolled subjects as "
    "1 - (1 - FMR)^N, assuming the N comparisons of a search are independent"
)


def identification_section(
    counts: IdentificationCounts,
    points: Sequence[dict],
    *,
    requested_sizes: Sequence[int],
    gallery_templates: str,
    enrol_share: float,
    seed: int,
    reps: int,
    confidence: float,
    min_identities: int,
    alpha: float,
    worst_group: dict[float, dict[int, float]] | None = None,
) -> dict:
    """The report section. ``points[t]`` is ``{"target_fmr", "threshold", "threshold_source"}``
    for ``counts.thresholds[t]``; ``requested_sizes`` the gallery sizes asked for (those above
    the audited size get a prediction only); ``worst_group`` (``--operating-points``) maps
    each target FPIR to its grid's threshold indices (after the points') and the 1:1 FMR
    level each was calibrated for.

    Computes (:func:`faceaudit.audit.identification_rates.identification_rates`,
    :func:`faceaudit.audit.identification_grid.worst_group_grid`), then presents
    (:func:`present_identification`, :func:`worst_group_section`)."""
    rates = identification_rates(
        counts, requested_sizes=requested_sizes, reps=reps, seed=seed, alpha=alpha
    )
    section = present_identification(
        rates, points, gallery_templates=gallery_templates, enrol_share=enrol_share, seed=seed,
        confidence=confidence, min_identities=min_identities,
    )
    if worst_group is not None:
        grids = [worst_group_grid(rates, target, list(levels), confidence)
                 for target, levels in worst_group.items()]
        merged = {t: level for levels in worst_group.values() for t, level in levels.items()}
        section["worst_group"] = worst_group_section(rates, grids, merged, confidence,
                                                     min_identities)
    return section


def present_identification(
    rates: IdentificationRates,
    points: Sequence[dict],
    *,
    gallery_templates: str,
    enrol_share: float,
    seed: int,
    confidence: float,
    min_identities: int,
) -> dict:
    """The ``identification`` section from computed rates (``points`` as for
    :func:`identification_section`)."""
    counts = rates.counts
    out_points = []
    for t, point in enumerate(points):
        at = rates.points[t]
        groups = group_rows(counts, at, confidence, min_identities)
        out_points.append({
            "target_fmr": point.get("target_fmr"),
            "threshold": float(point["threshold"]),
            "threshold_source": point.get("threshold_source"),
            "candidates": counts.candidates,
            "gallery_size": counts.gallery_size,
            "groups": groups,
            "summaries": summaries_section(counts, at, confidence, groups),
            "false_candidates": composition_section(counts, at.composition, confidence),
            "gallery_sizes": gallery_sizes_section(counts, at.sizes, groups, confidence,
                                                   min_identities),
        })
    return {
        "protocol": {
            "repeats": counts.repeats,
            "enrol_share": enrol_share,
            "gallery_templates": gallery_templates,
            "candidates": counts.candidates,
            "seed": seed,
            "search": ("exact (faceaudit.gallery.template_search), subjects ranked by their "
                       "best template"),
            "bootstrap_unit": "identity",
        },
        "gallery": {
            "subjects": counts.gallery_size,
            "templates": counts.gallery_templates,
            "identities": rates.identities,
        },
        "groups": list(counts.groups),
        "operating_points": out_points,
    }


def pooled_estimate(rate: PooledRate, g: int, confidence: float, min_identities: int,
                    note: str) -> dict:
    """Group ``g``'s estimate object of a pooled rate."""
    e, n = int(rate.errors[g]), int(rate.trials[g])
    return rate_estimate(
        e / n if n else None, None if rate.replicates is None else rate.replicates[:, g],
        errors=e, comparisons=n, identities=int(rate.identities[g]), confidence=confidence,
        min_identities=min_identities, note=note,
    )


def group_rows(counts: IdentificationCounts, at: PointRates, confidence: float,
               min_identities: int) -> list[dict[str, Any]]:
    """Each probe group's FPIR, FNIR, rank-1 hit rate and 1:1 FMR, and its searches."""
    rows = []
    rates = (
        ("fpir", at.fpir, "no non-mated searches from this group"),
        ("fnir", at.fnir, "no mated searches from this group"),
        ("rank1_hit_rate", at.rank1_hit_rate, "no mated searches from this group"),
        ("fmr", at.fmr, "no non-mated comparisons from this group"),
    )
    for g, name in enumerate(counts.groups):
        rows.append({
            "group": name,
            **{key: pooled_estimate(rate, g, confidence, min_identities, note)
               for key, rate, note in rates},
            "non_mated_searches": int(at.fpir.trials[g]),
            "mated_searches": int(at.fnir.trials[g]),
            "non_mated_identities": int(at.fpir.identities[g]),
            "mated_identities": int(at.fnir.identities[g]),
        })
    return rows


def summaries_section(counts: IdentificationCounts, at: PointRates, confidence: float,
                      rows: list[dict[str, Any]] | None = None) -> dict:
    """FPIR/FNIR summaries over the groups with both rates (intervals from the replicates;
    the ratios' from the group ``rows``' FPIR and FNIR on the log scale), named as
    :data:`SUMMARY_NAMES`."""
    if at.summaries is None:
        return missing_summaries(list(SUMMARY_NAMES.values()),
                                 "fewer than two groups have both non-mated and mated searches")
    names = [counts.groups[g] for g in at.summary_groups]
    out = summary_estimates(at.summaries, at.summary_replicates, confidence, names)
    if rows is not None:
        out = ratio_intervals(out, rows, {"fmr_ratio": "fpir", "fnmr_ratio": "fnir",
                                          "fmr_max_geomean": "fpir", "fnmr_max_geomean": "fnir"})
    renamed = {}
    for key, entry in out.items():
        if key in SUMMARY_NAMES:
            if entry.get("note"):
                entry["note"] = entry["note"].replace(key, SUMMARY_NAMES[key], 1)
            renamed[SUMMARY_NAMES[key]] = entry
    return renamed


def _grid(a: np.ndarray) -> list[list[float | None]]:
    return [[clean(v) for v in row] for row in np.asarray(a, dtype=np.float64)]


def composition_section(counts: IdentificationCounts, comp: Composition,
                        confidence: float) -> dict:
    """Probe group × candidate group: false candidates (counts, per non-mated search) and the
    share of non-mated searches returning at least one innocent candidate of that group."""
    G = len(counts.groups)
    low = high = np.full((G, G), np.nan)
    if comp.replicates is not None:
        low, high = percentile_interval(comp.replicates, confidence)
    return {
        "groups": list(counts.groups),
        "counts": comp.false_candidates.astype(int).tolist(),
        "per_search": _grid(comp.per_search),
        "fpir": _grid(comp.fpir),
        "fpir_low": _grid(low),
        "fpir_high": _grid(high),
        "non_mated_searches": [int(s) for s in comp.searches],
    }


def gallery_sizes_section(counts: IdentificationCounts, sizes: list[SizeRates],
                          groups: list[dict], confidence: float,
                          min_identities: int) -> list[dict]:
    """FPIR per group at each gallery size: measured (subsampled galleries and the audited
    size) and predicted from the group's 1:1 FMR, side by side."""
    out = []
    for at in sizes:
        entry_groups = []
        for g, name in enumerate(counts.groups):
            measured = None
            if at.audited:
                measured = groups[g]["fpir"]
            elif at.measured is not None:
                measured = pooled_estimate(at.measured, g, confidence, min_identities,
                                           "no non-mated searches from this group")
            entry_groups.append({
                "group": name,
                "fpir": measured,
                "predicted_fpir": clean(at.predicted[g]),
            })
        n = at.size
        out.append({
            "size": n,
            "measured": at.audited or at.measured is not None,
            "note": None if n <= counts.gallery_size else (
                f"the data allow galleries of at most {counts.gallery_size} subjects: "
                "prediction only"),
            "prediction": PREDICTION_NOTE,
            "groups": entry_groups,
        })
    return out


WORST_GROUP_RULE = ("the lowest grid threshold at which every supported probe group's FPIR "
                    "upper bound is at most the target FPIR")


def worst_group_section(rates: IdentificationRates, grids: Sequence[IdentificationGrid],
                        levels: dict[int, float], confidence: float,
                        min_identities: int) -> list[dict]:
    """``identification.worst_group`` (``--operating-points``): per target FPIR, every grid
    threshold with each probe group's FPIR and FNIR (intervals), the FPIR and FNIR ratios, and
    the recommended worst-group threshold; ``levels`` maps a threshold index to the 1:1 FMR
    level it was calibrated for."""
    counts = rates.counts
    out = []
    for grid in grids:
        points = []
        for t in grid.rows:
            at = rates.points[t]
            rows = []
            for g, name in enumerate(counts.groups):
                fpir = (pooled_estimate(at.fpir, g, confidence, min_identities,
                                        "no non-mated searches from this group")
                        if grid.supported[g] else
                        estimate(None, note="too few non-mated searches for the target"))
                rows.append({
                    "group": name,
                    "supported": grid.supported[g],
                    "fpir": fpir,
                    "fnir": pooled_estimate(at.fnir, g, confidence, min_identities,
                                            "no mated searches from this group"),
                    "non_mated_searches": int(at.fpir.trials[g]),
                    "mated_searches": int(at.fnir.trials[g]),
                })
            points.append({
                "threshold": float(counts.thresholds[t]),
                "fmr_level": clean(levels.get(t)),
                "recommended": t == grid.recommended,
                "groups": rows,
                "summaries": operating_point_ratios(
                    rows, (("fpir_ratio", "fpir"), ("fnir_ratio", "fnir"))),
            })
        chosen = next((p for p in points if p["recommended"]), None)
        out.append({
            "target_fpir": grid.target_fpir,
            "rule": WORST_GROUP_RULE,
            "candidates": counts.candidates,
            "gallery_size": counts.gallery_size,
            "recommended_threshold": chosen["threshold"] if chosen else None,
            "recommended": chosen,
            "note": grid.note,
            "grid": points,
        })
    return out
