"""The ``identification`` section of ``report.json`` (docs/report-schema.md), presented from
the per-unit counts of :func:`faceaudit.audit.identification.run_identification`.

Rates are pooled over the repeated splits (errors / searches); intervals resample identities
within each probe group (:func:`faceaudit.audit.bootstrap.bootstrap_rates`) with the same
small-sample rules as the 1:1 audit (:func:`faceaudit.audit.estimates.rate_estimate`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from faceaudit.audit import fairness
from faceaudit.audit.bootstrap import bootstrap_rates, percentile_interval
from faceaudit.audit.engine import missing_summaries, summary_estimates
from faceaudit.audit.estimates import clean, rate_estimate
from faceaudit.audit.identification import IdentificationCounts, predicted_fpir

# 1:1 summary keys → their identification names
SUMMARY_NAMES = {
    "fmr_ratio": "fpir_ratio",
    "fnmr_ratio": "fnir_ratio",
    "fmr_difference": "fpir_difference",
    "fnmr_difference": "fnir_difference",
    "inequity": "inequity",
    "fdr": "fdr",
    "garbe": "garbe",
}
PREDICTION_NOTE = (
    "predicted from each group's 1:1 false match rate against enrolled subjects as "
    "1 - (1 - FMR)^N, assuming the N comparisons of a search are independent"
)


def _ratio(errors: np.ndarray, total: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total > 0, errors / np.maximum(total, 1), np.nan)


def _per_group(values: np.ndarray, unit_group: np.ndarray, G: int) -> np.ndarray:
    """Sum unit values ``(..., U)`` per group → ``(..., G)``."""
    onehot = (unit_group[:, None] == np.arange(G)[None, :]).astype(np.float64)
    return np.asarray(values, dtype=np.float64) @ onehot


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
) -> dict:
    """The report section. ``points[t]`` is ``{"target_fmr", "threshold", "threshold_source"}``
    for ``counts.thresholds[t]``; ``requested_sizes`` the gallery sizes asked for (those above
    the audited size get a prediction only)."""
    G, T, S = len(counts.groups), len(counts.thresholds), len(counts.sizes)
    ug = counts.unit_group
    # bootstrap columns: per threshold fp, miss, rank1, impostor hits, cross (G), sizes (S)
    err_cols, tot_cols = [], []
    for t in range(T):
        err_cols += [counts.false_positive[t], counts.miss[t], counts.rank1_hit[t],
                     counts.impostor_hits[t]]
        tot_cols += [counts.non_mated, counts.mated, counts.mated, counts.impostor_comparisons]
        err_cols += [counts.cross_positive[t, :, g] for g in range(G)]
        tot_cols += [counts.non_mated] * G
        err_cols += [counts.size_false_positive[s, t] for s in range(S)]
        tot_cols += [counts.non_mated] * S
    width = 4 + G + S
    member = (ug[:, None] == np.arange(G)[None, :]).astype(np.float64)  # (U, G)
    errors = np.stack(err_cols, axis=1)[:, :, None] * member[:, None, :]
    totals = np.stack(tot_cols, axis=1)[:, :, None] * member[:, None, :]
    reps_matrix = (
        bootstrap_rates(ug, errors.reshape(len(ug), -1), totals.reshape(len(ug), -1), reps,
                        seed).reshape(reps, T, width, G)
        if reps else None
    )

    def ids(mask: np.ndarray, g: int) -> int:
        return int(((ug == g) & (mask > 0)).sum())

    def est(col_errors, col_totals, replicate, g, note):
        e, n = int(col_errors[ug == g].sum()), int(col_totals[ug == g].sum())
        return rate_estimate(
            e / n if n else None, replicate, errors=e, comparisons=n,
            identities=ids(col_totals, g), confidence=confidence,
            min_identities=min_identities, note=note,
        )

    out_points = []
    for t, point in enumerate(points):
        rep = reps_matrix[:, t] if reps_matrix is not None else None
        groups = []
        for g, name in enumerate(counts.groups):
            groups.append({
                "group": name,
                "fpir": est(counts.false_positive[t], counts.non_mated,
                            None if rep is None else rep[:, 0, g], g,
                            "no non-mated searches from this group"),
                "fnir": est(counts.miss[t], counts.mated,
                            None if rep is None else rep[:, 1, g], g,
                            "no mated searches from this group"),
                "rank1_hit_rate": est(counts.rank1_hit[t], counts.mated,
                                      None if rep is None else rep[:, 2, g], g,
                                      "no mated searches from this group"),
                "fmr": est(counts.impostor_hits[t], counts.impostor_comparisons,
                           None if rep is None else rep[:, 3, g], g,
                           "no non-mated comparisons from this group"),
                "non_mated_searches": int(counts.non_mated[ug == g].sum()),
                "mated_searches": int(counts.mated[ug == g].sum()),
                "non_mated_identities": ids(counts.non_mated, g),
                "mated_identities": ids(counts.mated, g),
            })
        out_points.append({
            "target_fmr": point.get("target_fmr"),
            "threshold": float(point["threshold"]),
            "threshold_source": point.get("threshold_source"),
            "candidates": counts.candidates,
            "gallery_size": counts.gallery_size,
            "groups": groups,
            "summaries": _summaries(groups, rep, alpha, confidence),
            "false_candidates": _composition(counts, t, rep, confidence),
            "gallery_sizes": _gallery_sizes(counts, t, rep, groups, requested_sizes, confidence,
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
            "identities": int(len(np.unique(counts.unit_identity))),
        },
        "groups": list(counts.groups),
        "operating_points": out_points,
    }


def _summaries(groups: list[dict], rep: np.ndarray | None, alpha: float,
               confidence: float) -> dict:
    """FPIR/FNIR summaries over the groups with both rates (intervals from the replicates)."""
    usable = [g for g, entry in enumerate(groups)
              if entry["fpir"]["value"] is not None and entry["fnir"]["value"] is not None]
    if len(usable) < 2:
        return missing_summaries(list(SUMMARY_NAMES.values()),
                                 "fewer than two groups have both non-mated and mated searches")
    fpir = np.array([groups[g]["fpir"]["value"] for g in usable])
    fnir = np.array([groups[g]["fnir"]["value"] for g in usable])
    point = fairness.summaries(fpir, fnir, None, alpha)
    replicates = None
    if rep is not None:
        replicates = fairness.summaries(rep[:, 0, usable], rep[:, 1, usable], None, alpha)
    names = [groups[g]["group"] for g in usable]
    out = summary_estimates(point, replicates, confidence, names)
    renamed = {}
    for key, entry in out.items():
        if key in SUMMARY_NAMES:
            if entry.get("note"):
                entry["note"] = entry["note"].replace(key, SUMMARY_NAMES[key], 1)
            renamed[SUMMARY_NAMES[key]] = entry
    return renamed


def _composition(counts: IdentificationCounts, t: int, rep: np.ndarray | None,
                 confidence: float) -> dict:
    """Probe group × candidate group: false candidates (counts, per non-mated search) and the
    share of non-mated searches returning at least one innocent candidate of that group."""
    G = len(counts.groups)
    ug = counts.unit_group
    searches = _per_group(counts.non_mated, ug, G)  # (G,)
    cross = np.stack([_per_group(counts.cross_positive[t, :, b], ug, G) for b in range(G)],
                     axis=1)  # (G probe, G candidate)
    rate = _ratio(cross, searches[:, None])
    per_search = _ratio(counts.false_candidates[t].astype(np.float64), searches[:, None])
    low = high = np.full((G, G), np.nan)
    if rep is not None:
        low, high = percentile_interval(rep[:, 4 : 4 + G, :].transpose(0, 2, 1), confidence)

    def grid(a):
        return [[clean(v) for v in row] for row in np.asarray(a, dtype=np.float64)]

    return {
        "groups": list(counts.groups),
        "counts": counts.false_candidates[t].astype(int).tolist(),
        "per_search": grid(per_search),
        "fpir": grid(rate),
        "fpir_low": grid(low),
        "fpir_high": grid(high),
        "non_mated_searches": [int(s) for s in searches],
    }


def _gallery_sizes(counts: IdentificationCounts, t: int, rep: np.ndarray | None,
                   groups: list[dict], requested: Sequence[int], confidence: float,
                   min_identities: int) -> list[dict]:
    """FPIR per group at each gallery size: measured (subsampled galleries and the audited
    size) and predicted from the group's 1:1 FMR, side by side."""
    G = len(counts.groups)
    ug = counts.unit_group
    sizes = sorted({*map(int, counts.sizes), counts.gallery_size,
                    *(int(n) for n in requested)})
    measured_at = {int(n): s for s, n in enumerate(counts.sizes)}
    out = []
    for n in sizes:
        entry_groups = []
        for g in range(G):
            fmr = groups[g]["fmr"]["value"]
            if n == counts.gallery_size:
                measured = groups[g]["fpir"]
            elif n in measured_at:
                s = measured_at[n]
                e = counts.size_false_positive[s, t]
                e_g, n_g = int(e[ug == g].sum()), int(counts.non_mated[ug == g].sum())
                measured = rate_estimate(
                    e_g / n_g if n_g else None,
                    None if rep is None else rep[:, 4 + G + s, g],
                    errors=e_g, comparisons=n_g,
                    identities=int(((ug == g) & (counts.non_mated > 0)).sum()),
                    confidence=confidence, min_identities=min_identities,
                    note="no non-mated searches from this group",
                )
            else:
                measured = None
            entry_groups.append({
                "group": counts.groups[g],
                "fpir": measured,
                "predicted_fpir": None if fmr is None else clean(float(predicted_fpir(fmr, n))),
            })
        out.append({
            "size": n,
            "measured": n == counts.gallery_size or n in measured_at,
            "note": None if n <= counts.gallery_size else (
                f"the data allow galleries of at most {counts.gallery_size} subjects: "
                "prediction only"),
            "prediction": PREDICTION_NOTE,
            "groups": entry_groups,
        })
    return out
