"""The ``comparison`` section in the terminal: one table at the primary target with every
model's estimates and each model's difference from the baseline (shared by ``faceaudit audit``
with several models and ``faceaudit compare``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.table import Table

METRIC_LABELS = {"fmr": "FMR", "fnmr": "FNMR", "accuracy": "accuracy"}


def _interval(est: Mapping[str, Any]) -> str:
    low, high = est.get("low"), est.get("high")
    if low is None and high is None:
        return ""
    return (f" [{'-inf' if low is None else format(low, '.3g')}, "
            f"{'inf' if high is None else format(high, '.3g')}]")


def _fmt(est: Mapping[str, Any]) -> str:
    if est.get("value") is None:
        return "n/a"
    return f"{est['value']:.3g}" + _interval(est)


def _diff(d: Mapping[str, Any]) -> str:
    if d.get("value") is None:
        return "n/a"
    return f"{d['value']:+.3g}" + _interval(d) + (" *" if d.get("excludes_zero") else "")


def comparison_target(section: Mapping[str, Any], target: float | None) -> Mapping[str, Any]:
    """The section's entry for ``target`` (the middle one when ``target`` is not listed)."""
    targets = section.get("targets") or []
    found = next((t for t in targets if t.get("target_fmr") == target), None)
    return found or targets[len(targets) // 2]


def row_label(row: Mapping[str, Any]) -> str:
    """``FMR female`` for a per-group rate, the summary's key for a summary."""
    if row.get("group") is None:
        return str(row["metric"])
    return f"{METRIC_LABELS.get(row['metric'], row['metric'])} {row['group']}"


def print_comparison(section: Mapping[str, Any], console: Console, target: float | None) -> None:
    """The side-by-side table at ``target`` and what its differences and intervals mean."""
    if not section.get("targets"):
        return
    entry = comparison_target(section, target)
    names = [m["name"] for m in section["models"]]
    baseline = section["baseline"]
    table = Table(title=f"models compared at FMR {entry['target_fmr']:g}")
    table.add_column("rate")
    for m in entry["models"]:
        thr = m.get("threshold")
        table.add_column(m["model"] + ("" if thr is None else f" (threshold {thr:.4g})"))
    for name in names[1:]:
        table.add_column(f"{name} − {baseline}")
    for row in entry["rows"]:
        table.add_row(
            row_label(row),
            *[_fmt(v) for v in row["values"]],
            *[_diff(d) for d in row["differences"]],
        )
    console.print(table)
    console.print(f"thresholds: {section['thresholds']}")
    if section.get("paired") and not section.get("note"):
        console.print(
            f"differences: {section['interval']}; * = the "
            f"{section.get('confidence', 0.95):.0%} interval excludes 0"
        )
    else:
        console.print(f"differences: {section.get('note')}")
