"""The report's ``comparison`` section: several models' rates and summaries side by side, and
each model's difference from the first (the baseline), with a paired interval when the models
were audited together (docs/report-schema.md, "comparison").

Presenting, not computing: the differences and their intervals come from
:mod:`faceaudit.audit.comparison`; this module lays them out per target, group and summary.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from faceaudit.audit.comparison import differences, excludes_zero
from faceaudit.audit.estimates import clean
from faceaudit.audit.fairness import SUMMARY_KEYS
from faceaudit.base.errors import InputDataError

RATE_METRICS = ("fmr", "fnmr", "accuracy")
THRESHOLDS = (
    "each model at its own threshold for the same target FMR, set on that model's own "
    "impostor comparisons"
)
PAIRED = (
    "paired identity bootstrap: in every replicate the same resampled identities for every "
    "model, the difference taken replicate by replicate"
)
UNPAIRED = (
    "no paired interval: the reports were computed separately, so their replicates cannot be "
    "paired; each model's own interval is shown, the difference has none"
)

UNBOUNDED = "no finite interval: unbounded or undefined in some replicates (a ratio over 0)"


class ComparisonInputError(InputDataError):
    """Reports or models that cannot be compared (different schema, targets or groups)."""

    code = "comparison-input-error"


def model_entry(name: str, report: Mapping[str, Any]) -> dict:
    """Who a model is: its name in the comparison and its report's provenance."""
    prov = report.get("provenance") or {}
    return {
        "name": name,
        "input_kind": prov.get("input_kind"),
        "input": prov.get("input"),
        "backend_id": prov.get("backend_id"),
        "model_sha256": prov.get("model_sha256"),
    }


def check_comparable(names: Sequence[str], reports: Sequence[Mapping[str, Any]]) -> None:
    """Raise :class:`ComparisonInputError` unless the reports share schema, target FMRs,
    groups and score direction (naming the first report that differs and how)."""
    first, base = names[0], reports[0]
    for name, r in zip(names[1:], reports[1:], strict=True):
        for what, a, b in (
            ("schema", base.get("schema"), r.get("schema")),
            (
                "target FMRs",
                [t.get("target_fmr") for t in base.get("targets") or []],
                [t.get("target_fmr") for t in r.get("targets") or []],
            ),
            ("groups", base.get("groups"), r.get("groups")),
            (
                "grouping attributes (by)",
                (base.get("provenance") or {}).get("by"),
                (r.get("provenance") or {}).get("by"),
            ),
        ):
            if a != b:
                raise ComparisonInputError(
                    f"{name} and {first} have different {what}: {b!r} vs {a!r}; "
                    "only reports of the same kind can be compared"
                )


def _group(entry: Mapping[str, Any], group: str) -> Mapping[str, Any]:
    return next((g for g in entry.get("groups") or [] if g.get("group") == group), {})


def _shown(est: Mapping[str, Any] | None) -> dict:
    est = est or {}
    out = {"value": est.get("value"), "low": est.get("low"), "high": est.get("high")}
    if est.get("value") is None:
        out["note"] = est.get("note") or "not estimated"
    return out


def _row(
    metric: str,
    group: str | None,
    names: Sequence[str],
    estimates: Sequence[Mapping[str, Any] | None],
    replicates: Sequence[np.ndarray | None] | None,
    confidence: float,
) -> dict:
    values = np.array(
        [math.nan if e is None or e.get("value") is None else e["value"] for e in estimates]
    )
    reps = None
    present = [r for r in replicates or [] if r is not None]
    if replicates is not None and len(present) == len(replicates):
        reps = np.stack(present, axis=1)
    diff, low, high = differences(values, reps, confidence)
    apart = excludes_zero(low, high)
    diffs = []
    for m, name in enumerate(names[1:]):
        d = {"model": name, "value": clean(diff[m]), "low": None, "high": None,
             "excludes_zero": None}
        if d["value"] is None:
            d["note"] = "a model has no estimate"
        elif reps is not None:
            d.update(low=clean(low[m]), high=clean(high[m]), excludes_zero=bool(apart[m]))
            if d["low"] is None and d["high"] is None:
                d["excludes_zero"] = None
                d["note"] = UNBOUNDED
        diffs.append(d)
    return {
        "metric": metric,
        "group": group,
        "values": [_shown(e) for e in estimates],
        "differences": diffs,
    }


def comparison_section(
    names: Sequence[str],
    reports: Sequence[Mapping[str, Any]],
    replicates: Sequence[Mapping[tuple, np.ndarray]] | None = None,
    confidence: float = 0.95,
) -> dict:
    """The ``comparison`` section for ``reports`` of the models ``names`` (first = baseline).

    ``replicates`` (one ``EngineResult.replicates`` per model, drawn on the same resampled
    identities) gives every difference a paired interval; without it (``faceaudit compare``)
    differences have none and the section says so.
    """
    if len(names) < 2 or len(names) != len(reports):
        raise ComparisonInputError("a comparison needs one report for each of two or more models")
    if len(set(names)) != len(names):
        raise ComparisonInputError(f"models need distinct names, got {', '.join(names)}")
    check_comparable(names, reports)
    paired = replicates is not None
    groups = list(reports[0].get("groups") or [])
    targets = []
    for i, base in enumerate(reports[0].get("targets") or []):
        t = base.get("target_fmr")
        entries = [r["targets"][i] for r in reports]

        def reps_of(key: tuple) -> list[np.ndarray | None] | None:
            return [r.get(key) for r in replicates] if replicates is not None else None

        rows = [
            _row(
                metric,
                g,
                names,
                [_group(e, g).get(metric) for e in entries],
                reps_of((t, metric, g)),
                confidence,
            )
            for g in groups
            for metric in RATE_METRICS
        ]
        rows += [
            _row(
                key,
                None,
                names,
                [(e.get("summaries") or {}).get(key) for e in entries],
                reps_of((t, "summary", key)),
                confidence,
            )
            for key in SUMMARY_KEYS
            if any(key in (e.get("summaries") or {}) for e in entries)
        ]
        targets.append(
            {
                "target_fmr": t,
                "models": [
                    {
                        "model": name,
                        "threshold": e.get("threshold"),
                        "supported": e.get("supported"),
                        "achieved_fmr": e.get("achieved_fmr"),
                    }
                    for name, e in zip(names, entries, strict=True)
                ],
                "rows": rows,
            }
        )
    return {
        "models": [model_entry(n, r) for n, r in zip(names, reports, strict=True)],
        "baseline": names[0],
        "difference": "model − baseline",
        "thresholds": THRESHOLDS,
        "paired": paired,
        "interval": PAIRED if paired else None,
        "note": None if paired else UNPAIRED,
        "confidence": confidence,
        "groups": groups,
        "targets": targets,
    }


def write_comparison_csv(section: Mapping[str, Any], out_dir: Path) -> Path:
    """``comparison.csv``: one row per target, rate or summary, and model — its estimate and
    (after the baseline) its difference from the baseline with the interval."""
    path = Path(out_dir) / "comparison.csv"
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(
            ["target_fmr", "metric", "group", "model", "threshold", "value", "low", "high",
             "difference", "difference_low", "difference_high", "excludes_zero"]
        )
        for t in section.get("targets") or []:
            for row in t["rows"]:
                diffs = [None, *row["differences"]]
                for model, value, d in zip(t["models"], row["values"], diffs, strict=True):
                    d = d or {}
                    writer.writerow(
                        [t["target_fmr"], row["metric"], row["group"], model["model"],
                         model["threshold"], value.get("value"), value.get("low"),
                         value.get("high"), d.get("value"), d.get("low"), d.get("high"),
                         d.get("excludes_zero")]
                    )
    return path
