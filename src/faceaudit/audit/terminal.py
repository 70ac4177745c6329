"""What ``faceaudit audit`` prints: the headline table (stdout), the report's warnings
(stderr) and, with ``--json``, one JSON object summarising the report (stdout)."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console
from rich.table import Table

HEADLINE_SUMMARIES = ("fmr_ratio", "fnmr_ratio", "ser", "std")


def format_estimate(est: dict) -> str:
    """An estimate in one terminal cell: ``value [low, high]`` to three significant digits,
    ``!`` when it rests on few identities, ``n/a`` when there is no value."""
    if est["value"] is None:
        return "n/a"
    text = f"{est['value']:.3g}"
    if est["low"] is not None and est["high"] is not None:
        text += f" [{est['low']:.3g}, {est['high']:.3g}]"
    if est.get("small_sample"):
        text += " !"
    return text


def _ids(group: dict) -> str:
    imp, gen = group.get("impostor_identities"), group.get("genuine_identities")
    if imp is None and gen is None:
        return "?"
    return f"{'?' if imp is None else imp} / {'?' if gen is None else gen}"


def primary_entry(report: dict) -> dict | None:
    """The ``targets`` entry of the primary target."""
    primary = report["primary_target"]
    return next((t for t in report["targets"] if t["target_fmr"] == primary), None)


def headline(report: dict, console: Console) -> None:
    """Per-group FMR/FNMR at the primary target with intervals and identities, the summaries
    with the groups they are over (and those left out), and the gate."""
    entry = primary_entry(report)
    if entry is None:
        return
    primary = entry["target_fmr"]
    label = f"FMR {primary:g}" if primary else "given rates"
    rule = ">=" if report["provenance"].get("higher_is_better", True) else "<="
    thr = entry["threshold"]
    table = Table(title=f"faceaudit audit at {label}"
                  + (f" (match: score {rule} {thr!r})" if thr is not None else ""))
    for col in ("group", "FMR [95% CI]", "FNMR [95% CI]", "identities imp / gen"):
        table.add_column(col)
    for g in entry["groups"]:
        table.add_row(g["group"], format_estimate(g["fmr"]), format_estimate(g["fnmr"]), _ids(g))
    console.print(table)
    if any(g.get("small_sample") for g in entry["groups"]):
        minimum = report["provenance"].get("min_identities")
        console.print(f"! rests on fewer than {minimum} identities: read with care")
    for key in HEADLINE_SUMMARIES:
        if key in entry["summaries"]:
            s = entry["summaries"][key]
            over = f" over {', '.join(s['groups'])}" if s.get("groups") else ""
            note = f" ({s['note']})" if s["value"] is None and s.get("note") else ""
            console.print(f"{key}: {format_estimate(s)}{over}{note}")
    for part in (entry.get("summary_groups") or {}).values():
        for left in part["left_out"]:
            console.print(
                f"left out of {', '.join(part['summaries'][:2])}…: {left['group']} "
                f"({left['reason']})"
            )
    if not entry["supported"]:
        console.print(f"target FMR {primary:g} is not supported by these data")
    print_operating_points(report, console)
    print_gate(report, console)


def print_operating_points(report: dict, console: Console) -> None:
    """Per target (``--operating-points``): the worst-group threshold and each group's FMR and
    FNMR there, beside those at the global threshold."""
    print_worst_group_points(report.get("operating_points") or [], console,
                             target="target_fmr", rates=("FMR", "FNMR"))


def print_worst_group_points(entries: list[dict], console: Console, *, target: str,
                             rates: tuple[str, str]) -> None:
    """One line per target of a worst-group grid (1:1 FMR/FNMR or 1:N FPIR/FNIR, named by
    ``rates``; ``target`` is the entry's target key): the recommended threshold and each
    group's two rates there, or why there is none."""
    false_rate, miss_rate = rates
    for entry in entries:
        t = entry[target]
        chosen = entry["recommended"]
        if chosen is None:
            console.print(f"worst-group threshold at {false_rate} {t:g}: none ({entry['note']})",
                          markup=False, highlight=False, soft_wrap=True)
            continue
        shown = "; ".join(
            f"{g['group']} {false_rate} {format_estimate(g[false_rate.lower()])}, {miss_rate} "
            f"{format_estimate(g[miss_rate.lower()])}" for g in chosen["groups"])
        console.print(f"worst-group threshold at {false_rate} {t:g}: {chosen['threshold']!r} "
                      f"({shown})", markup=False, highlight=False, soft_wrap=True)


def gate_value(rule: dict) -> str:
    """A gate rule's value and interval: ``11.8 [1.54, 93.2]``, ``[1.54, ∞)`` for an infinite
    value, ``n/a`` for none; ``no interval`` when it has none."""
    low, high = rule.get("low"), rule.get("high")
    high_text = "∞)" if high is None else f"{high:.3g}]"
    interval = f"[{low:.3g}, {high_text}" if low is not None else "no interval"
    if rule["value"] is None:
        return interval if low is not None else "n/a"
    return f"{rule['value']:.3g} {interval}"


def print_gate(report: dict, console: Console) -> None:
    """One line per gate condition: its expression, its verdict (PASS, FAIL, INCONCLUSIVE,
    INSUFFICIENT, UNEVALUABLE), the value with its interval, and why a condition could not be
    decided; then the gate's verdict."""
    rules = report["gate"]["rules"]
    for gate_rule in rules:
        status = gate_rule["status"]
        why = f": {gate_rule['note']}" if status not in ("pass", "fail") and gate_rule.get(
            "note") else ""
        console.print(
            f"gate {gate_rule['expression']}: {status.upper()} ({gate_value(gate_rule)}){why}",
            markup=False, highlight=False, soft_wrap=True,
        )
    if rules:
        verdict = report["gate"].get("verdict") or ("pass" if report["gate"]["passed"] else "fail")
        console.print(f"gate: {verdict.upper()}", markup=False, highlight=False)


def print_warnings(report: dict, console: Console) -> None:
    """Every warning of the report, one ``faceaudit: warning:`` line each (give a stderr
    console; the CLI grammar of docs/cli.md)."""
    for warning in report["warnings"]:
        console.print(f"faceaudit: warning: {' '.join(warning.split())}", markup=False,
                      highlight=False, soft_wrap=True)


def json_summary(report: dict, out: Path) -> str:
    """One line of JSON for pipelines: where the report is, the gate, the warnings, and per
    target the threshold, each group's FMR/FNMR estimates and the summaries (with the groups
    they are over)."""
    targets = []
    for t in report["targets"]:
        targets.append(
            {
                "target_fmr": t["target_fmr"],
                "threshold": t["threshold"],
                "supported": t["supported"],
                "achieved_fmr": t["achieved_fmr"],
                "groups": [
                    {
                        "group": g["group"],
                        "fmr": g["fmr"],
                        "fnmr": g["fnmr"],
                        "impostor_pairs": g["impostor_pairs"],
                        "genuine_pairs": g["genuine_pairs"],
                        "impostor_identities": g.get("impostor_identities"),
                        "genuine_identities": g.get("genuine_identities"),
                        "small_sample": g.get("small_sample", False),
                    }
                    for g in t["groups"]
                ],
                "summaries": t["summaries"],
                "summary_groups": t.get("summary_groups"),
            }
        )
    summary = {
        "schema": report["schema"],
        "report": str(out / "report.json"),
        "html": str(out / "report.html"),
        "primary_target": report["primary_target"],
        "higher_is_better": report["provenance"].get("higher_is_better", True),
        "gate": report["gate"],
        "warnings": report["warnings"],
        "targets": targets,
    }
    if report.get("comparison"):
        summary["comparison"] = report["comparison"]
    return json.dumps(summary, allow_nan=False)

