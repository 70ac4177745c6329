"""The ``pad`` section of ``report.json`` (docs/report-schema.md), presented from the rates
:mod:`faceaudit.audit.pad_rates` computes, and the warnings that say what the numbers cannot.

Estimate objects are :mod:`faceaudit.audit.estimates`' (the small-sample rules of the 1:1 audit:
an exact one-sided bound at 0 errors, a ``small_sample`` flag below ``min_identities``
subjects); the ratios' intervals come from the groups' own intervals on the log scale
(:func:`~faceaudit.audit.estimates.with_ratio_interval`), a difference's from the replicates'
percentiles.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import numpy as np

from faceaudit.audit.bootstrap import percentile_interval
from faceaudit.audit.estimates import (
    clean,
    estimate,
    interval_of_ratio,
    rate_estimate,
    with_ratio_interval,
)
from faceaudit.audit.fairness import PAD_SUFFIXES
from faceaudit.audit.pad_rates import (
    COMBINED,
    FEW_ATTACKS,
    Family,
    PadPoint,
    PadRates,
    Rate,
    required_attacks,
)

NOTES = {
    "bpcer": "no bona fide presentations",
    "apcer": "no attack presentations",
    "iapmr": "no attack presentations with a comparison score",
}


def _estimate(rate: Rate, g: int | None, confidence: float, min_identities: int,
              note: str) -> dict:
    """Group ``g``'s (``None``: every group's) estimate object of ``rate``."""
    if g is None:
        e, n, ids = rate.overall_errors, rate.overall_trials, rate.overall_subjects
        reps = rate.overall_replicates
    else:
        e, n, ids = int(rate.errors[g]), int(rate.trials[g]), int(rate.subjects[g])
        reps = None if rate.replicates is None else rate.replicates[:, g]
    out = rate_estimate(e / n if n else None, reps, errors=e, comparisons=n, identities=ids,
                        confidence=confidence, min_identities=min_identities, note=note)
    out["subjects"] = out["identities"]  # the gate reads "identities": subjects here
    out["presentations"] = out["comparisons"]
    return out


def _summary_note(key: str, value: float) -> str | None:
    if math.isinf(value):
        return f"{key}: the smallest group value is 0, so the ratio is infinite"
    if math.isnan(value):
        return f"{key}: undefined (all group values are 0)"
    return None


def family_summaries(fam: Family, groups: list[str], rows: list[dict], confidence: float
                     ) -> dict[str, dict]:
    """The summaries of one family (``bpcer_ratio``, …) with their intervals and the groups
    they are over."""
    names = [groups[g] for g in fam.members]
    out: dict[str, dict] = {}
    for suffix in PAD_SUFFIXES:
        key = f"{fam.rate}_{suffix}"
        if fam.point is None:
            out[key] = {**estimate(None, note=f"{key}: needs two groups with "
                                   f"{NOTES[fam.rate].removeprefix('no ')} (enough for the "
                                   f"target); {len(fam.members)} qualify"), "groups": names,
                        "interval": None}
            continue
        value = fam.point[suffix]
        entry = estimate(value, note=_summary_note(key, value))
        entry.setdefault("note", None)
        entry["groups"] = names
        entry["interval"] = None
        if suffix == "difference":
            if fam.replicates is not None and entry["value"] is not None:
                low, high = percentile_interval(fam.replicates[suffix], confidence)
                entry["low"], entry["high"] = clean(float(low)), clean(float(high))
                entry["interval"] = "percentile" if entry["low"] is not None else None
        else:
            over = [row[fam.rate] for row in rows if row["group"] in names]
            entry = with_ratio_interval(entry, over, interval_of_ratio(key))
        out[key] = entry
    return out


def combined_summaries(point: PadPoint, groups: list[str], confidence: float
                       ) -> dict[str, dict]:
    """Inequity rate, FDR and GARBE over APCER and BPCER (percentile intervals)."""
    fam = point.combined
    names = [groups[g] for g in fam.members]
    out: dict[str, dict] = {}
    for key in COMBINED:
        if fam.point is None:
            out[key] = {**estimate(None, note=f"{key}: needs two groups with both APCER and "
                                   f"BPCER; {len(fam.members)} qualify"), "groups": names,
                        "interval": None}
            continue
        value = fam.point[key]
        entry = estimate(value, note=_summary_note(key, value))
        entry.setdefault("note", None)
        entry.update(groups=names, interval=None)
        if fam.replicates is not None and entry["value"] is not None:
            low, high = percentile_interval(fam.replicates[key], confidence)
            entry["low"], entry["high"] = clean(float(low)), clean(float(high))
            entry["interval"] = "percentile" if entry["low"] is not None else None
        out[key] = entry
    return out


def group_rows(rates: PadRates, point: PadPoint, confidence: float,
               min_identities: int) -> list[dict[str, Any]]:
    """Each group's BPCER, APCER (its worst species'), APCER per species and IAPMR."""
    data = rates.data
    rows = []
    for g, name in enumerate(data.groups):
        worst = point.worst.species[g]
        bpcer = _estimate(point.bpcer, g, confidence, min_identities, NOTES["bpcer"])
        apcer = _estimate(point.worst.rate, g, confidence, min_identities, NOTES["apcer"])
        if worst is None:
            apcer = {**estimate(None, note=NOTES["apcer"]), "subjects": 0, "identities": 0,
                     "presentations": 0, "comparisons": 0, "errors": 0, "small_sample": False}
        species = {s: _estimate(point.apcer[i], g, confidence, min_identities,
                                f"no {s} attacks in this group")
                   for i, s in enumerate(data.species_names)}
        iapmr = None
        if point.iapmr is not None:
            iapmr = _estimate(point.iapmr, g, confidence, min_identities, NOTES["iapmr"])
        flagged = [e for e in (bpcer, apcer, iapmr) if e is not None]
        rows.append({
            "group": name,
            "bpcer": bpcer,
            "apcer": apcer,
            "apcer_species": None if worst is None else data.species_names[worst],
            "species": species,
            "iapmr": iapmr,
            "bona_fide_presentations": int(point.bpcer.trials[g]),
            "attack_presentations": {s: int(point.apcer[i].trials[g])
                                     for i, s in enumerate(data.species_names)},
            "bona_fide_subjects": int(point.bpcer.subjects[g]),
            "attack_subjects": {s: int(point.apcer[i].subjects[g])
                                for i, s in enumerate(data.species_names)},
            "supported": bool(point.groups_supported[g]),
            "small_sample": any(bool(e.get("small_sample")) for e in flagged),
        })
    return rows


def _reason(rate: str, why: str, point: PadPoint, row: dict[str, Any]) -> str:
    """Why a group is left out of a family of summaries, in words with its counts."""
    if why != FEW_ATTACKS or point.apcer_target is None:
        return NOTES[rate]
    need = required_attacks(point.apcer_target)
    few = ", ".join(f"{n:,} {s}" for s, n in row["attack_presentations"].items() if 0 < n < need)
    return (f"{few} attack presentations; the rule of three needs {need:,} per species for APCER "
            f"{point.apcer_target:g}")


def point_section(rates: PadRates, point: PadPoint, confidence: float,
                  min_identities: int) -> dict[str, Any]:
    """One operating point: its threshold, overall and per-group rates, summaries."""
    data = rates.data
    rows = group_rows(rates, point, confidence, min_identities)
    worst = point.worst.overall_species
    overall_apcer = _estimate(point.worst.rate, None, confidence, min_identities,
                              NOTES["apcer"])
    summaries: dict[str, dict] = {}
    for fam in point.families.values():
        summaries.update(family_summaries(fam, data.groups, rows, confidence))
    summaries.update(combined_summaries(point, data.groups, confidence))
    return {
        "label": point.label,
        "apcer_target": point.apcer_target,
        "threshold": float(point.threshold),
        "threshold_source": ("given (--pad-threshold)" if point.apcer_target is None else
                             "the lowest attack score at which every species' APCER over all "
                             f"groups is at most {point.apcer_target:g}"),
        "supported": point.supported,
        "required_attacks_per_species": (None if point.apcer_target is None
                                         else required_attacks(point.apcer_target)),
        "overall": {
            "bpcer": _estimate(point.bpcer, None, confidence, min_identities, NOTES["bpcer"]),
            "apcer": overall_apcer,
            "apcer_species": None if worst is None else data.species_names[worst],
            "species": {s: _estimate(point.apcer[i], None, confidence, min_identities,
                                     f"no {s} attacks")
                        for i, s in enumerate(data.species_names)},
            "iapmr": None if point.iapmr is None else _estimate(
                point.iapmr, None, confidence, min_identities, NOTES["iapmr"]),
        },
        "groups": rows,
        "summaries": summaries,
        "summary_groups": {
            fam.rate: {"groups": [data.groups[g] for g in fam.members],
                       "left_out": [{"group": data.groups[g],
                                     "reason": _reason(fam.rate, why, point, rows[g])}
                                    for g, why in fam.left_out.items()]}
            for fam in point.families.values()
        },
    }


def primary_index(points: list[dict]) -> int | None:
    """The operating point rules without a target are judged at: the given threshold (a
    vendor's deployed one) when there is one, else the middle APCER target (BPCER20 of the
    default 1 %, 5 %, 10 %)."""
    if not points:
        return None
    given = [i for i, p in enumerate(points) if p["apcer_target"] is None]
    if given:
        return given[0]
    return (len(points) - 1) // 2 if len(points) % 2 == 0 else len(points) // 2


def pad_section(rates: PadRates, *, confidence: float, min_identities: int, reps: int,
                iapmr_source: str | None) -> dict[str, Any]:
    """The ``pad`` section of report.json."""
    data = rates.data
    points = [point_section(rates, p, confidence, min_identities) for p in rates.points]
    primary = primary_index(points)
    return {
        "standard": "ISO/IEC 30107-3",
        "convention": {
            "higher_is_attack": data.higher_is_attack,
            "accepted_as_bona_fide": ("score <= threshold" if data.higher_is_attack
                                      else "score >= threshold"),
        },
        "groups": list(data.groups),
        "species": list(data.species_names),
        "presentations": {
            "bona_fide": int((~data.attack).sum()),
            "attacks": {s: int((data.species == i).sum())
                        for i, s in enumerate(data.species_names)},
            "subjects": int(len(data.unit_group)),
        },
        "bootstrap": {"reps": reps, "unit": "subject"},
        "iapmr": None if rates.comparison_threshold is None else {
            "comparison_threshold": float(rates.comparison_threshold),
            "threshold_source": iapmr_source,
            "match": ("comparison_score <= threshold" if data.comparison_lower_is_better
                      else "comparison_score >= threshold"),
        },
        "primary": None if primary is None else points[primary]["label"],
        "operating_points": points,
    }


def pad_warnings(rates: PadRates, section: dict, min_identities: int) -> list[str]:
    """What the numbers cannot say: a score direction that looks reversed, unsupported
    APCER targets, groups without some presentations, rates on few subjects."""
    data = rates.data
    out = []
    bona = np.median(data.score[~data.attack])
    attack = np.median(data.score[data.attack])
    if attack > bona:
        read = "a higher score as an attack" if data.higher_is_attack else \
            "a higher score as more bona fide"
        flip = "--lower-is-attack" if data.higher_is_attack else "--higher-is-attack"
        out.append(f"attack presentations score more bona fide than bona fide ones on the median "
                   f"(this audit read {read}): is the score direction right? ({flip} flips it)")
    for point in section["operating_points"]:
        if point["supported"]:
            continue
        few = [f"{s} {n:,}" for s, n in section["presentations"]["attacks"].items()
               if n < point["required_attacks_per_species"]]
        out.append(f"{point['label']} (APCER {point['apcer_target']:g}) is not supported: the "
                   f"rule of three needs {point['required_attacks_per_species']:,} attack "
                   f"presentations per species ({', '.join(few)}); reported, never a gate pass")
    for point in section["operating_points"]:
        for rate, part in point["summary_groups"].items():
            if part["left_out"] and len(part["groups"]) >= 2:
                listed = "; ".join(f"{x['group']}: {x['reason']}" for x in part["left_out"])
                out.append(f"at {point['label']}: {rate}_* summaries are over "
                           f"{', '.join(part['groups'])} only; left out: {listed}")
            elif part["left_out"]:
                listed = "; ".join(f"{x['group']}: {x['reason']}" for x in part["left_out"])
                out.append(f"at {point['label']}: no {rate}_* summaries ({listed})")
    first = section["operating_points"][0] if section["operating_points"] else None
    if first is not None:
        for row in first["groups"]:
            if not row["bona_fide_presentations"]:
                out.append(f"group {row['group']!r} has no bona fide presentations: no BPCER "
                           "for it")
            missing = [s for s, n in row["attack_presentations"].items() if not n]
            if missing:
                out.append(f"group {row['group']!r} has no {', '.join(missing)} attacks: its "
                           "APCER is over the species it has")
        small = [f"{kind.upper()} of {row['group']!r} ({row[kind]['subjects']} subjects)"
                 for row in first["groups"] for kind in ("bpcer", "apcer", "iapmr")
                 if row.get(kind) and row[kind].get("small_sample")]
        if small:
            out.append(f"PAD rates resting on fewer than {min_identities} subjects (flagged "
                       f"small_sample): {', '.join(small)}")
    return out


PAD_CSV_HEADER = ["point", "apcer_target", "threshold", "supported", "group", "rate", "species",
                  "value", "low", "high", "errors", "presentations", "subjects", "small_sample"]


def pad_rows(section: dict[str, Any]) -> list[list[Any]]:
    """The rows of ``pad.csv``: per operating point, per group (and ``all``), each rate —
    ``bpcer``, ``apcer`` (the worst species, named), ``apcer`` per species, ``iapmr``."""
    rows: list[list[Any]] = []
    for p in section["operating_points"]:
        head = [p["label"], p["apcer_target"], p["threshold"], p["supported"]]
        entries = [("all", p["overall"])] + [(g["group"], g) for g in p["groups"]]
        for name, at in entries:
            rates: list[tuple[str, str, dict | None]] = [
                ("bpcer", "", at["bpcer"]), ("apcer", at.get("apcer_species") or "", at["apcer"])]
            rates += [("apcer", s, est) for s, est in at["species"].items()]
            rates.append(("iapmr", "", at.get("iapmr")))
            for rate, species, est in rates:
                if est is None:
                    continue
                rows.append(head + [name, rate, species, est.get("value"), est.get("low"),
                                    est.get("high"), est.get("errors"), est.get("presentations"),
                                    est.get("subjects"), est.get("small_sample")])
    return rows


def write_pad_csv(section: dict[str, Any], out_dir: Path) -> Path:
    """``pad.csv`` beside the report (rows: :func:`pad_rows`)."""
    path = Path(out_dir) / "pad.csv"
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(PAD_CSV_HEADER)
        writer.writerows(pad_rows(section))
    return path
