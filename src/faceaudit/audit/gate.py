"""The audit gate: ``--fail-if 'fmr_ratio>2'`` rules judged on the report's summaries and
their intervals — *pass* when the whole interval is within the limit, *fail* when the whole
interval is beyond it, *inconclusive* otherwise, *insufficient* when a rate behind the summary
has no interval or rests on too few identities (never a pass), *unevaluable* when the summary
cannot be computed (:mod:`faceaudit.audit.gate_rules`)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from faceaudit.audit.fairness import (
    IDENTIFICATION_SUMMARY_KEYS,
    PAD_SUMMARY_KEYS,
    SUMMARY_KEYS,
)
from faceaudit.audit.gate_rules import (
    FAIL,
    INCONCLUSIVE,
    INSUFFICIENT,
    MIN_IDENTITIES,
    OPERATORS,
    PASS,
    UNEVALUABLE,
    insufficiency,
    interval_verdict,
    same_number,
)
from faceaudit.base.errors import InputDataError

_OP = "|".join(re.escape(op) for op in sorted(OPERATORS, key=len, reverse=True))  # >= before >
_RULE = re.compile(
    rf"^\s*(?P<metric>[a-z_]+)\s*(?P<op>{_OP})\s*(?P<limit>[-+0-9.eE]+|inf)\s*"
    r"(?:@\s*(?P<target>[0-9.eE+-]+))?\s*$"
)


class GateExpressionError(InputDataError):
    """A ``--fail-if`` expression cannot be parsed or names an unknown summary."""

    code = "gate-expression-error"


@dataclass(frozen=True)
class GateRule:
    """One parsed rule: fail when ``metric op limit`` at ``target_fmr`` (None = the default)."""

    expression: str
    metric: str
    op: str
    limit: float
    target_fmr: float | None


def parse_rule(expression: str) -> GateRule:
    """Parse ``name op number[@target]``, e.g. ``fmr_ratio>2`` or ``fnmr_ratio>=1.5@1e-2``."""
    match = _RULE.match(expression)
    if not match:
        raise GateExpressionError(
            f"bad --fail-if {expression!r}: expected NAME OP NUMBER[@FMR], e.g. 'fmr_ratio>2'"
        )
    metric = match["metric"]
    known = tuple(dict.fromkeys(SUMMARY_KEYS + IDENTIFICATION_SUMMARY_KEYS + PAD_SUMMARY_KEYS))
    if metric not in known:
        raise GateExpressionError(
            f"bad --fail-if {expression!r}: unknown summary {metric!r} "
            f"(one of {', '.join(known)})"
        )
    try:
        limit = float(match["limit"])
        target = float(match["target"]) if match["target"] else None
    except ValueError:
        raise GateExpressionError(f"bad --fail-if {expression!r}: not a number") from None
    if target is not None and not 0 < target < 1:
        raise GateExpressionError(f"bad --fail-if {expression!r}: the FMR must be in (0, 1)")
    return GateRule(expression.strip(), metric, match["op"], limit, target)


#: the per-group rates each summary rests on (the others: both of a mode's rates)
RATES_BEHIND = {
    "fmr_ratio": ("fmr",), "fmr_difference": ("fmr",),
    "fnmr_ratio": ("fnmr",), "fnmr_difference": ("fnmr",),
    "fpir_ratio": ("fpir",), "fpir_difference": ("fpir",),
    "fnir_ratio": ("fnir",), "fnir_difference": ("fnir",),
    "fmr_max_geomean": ("fmr",), "fnmr_max_geomean": ("fnmr",),
    "fpir_max_geomean": ("fpir",), "fnir_max_geomean": ("fnir",),
    **{key: (key.split("_")[0],) for key in PAD_SUMMARY_KEYS},  # bpcer_ratio: ("bpcer",)
}

#: the gate's verdict is its worst rule's, in this order
SEVERITY = (FAIL, UNEVALUABLE, INSUFFICIENT, INCONCLUSIVE, PASS)


def overall_verdict(statuses: list[str]) -> str:
    """The worst of the rules' verdicts (:data:`SEVERITY`); ``pass`` without rules."""
    return next((v for v in SEVERITY if v in statuses), PASS)


def _entry(report: dict, target: float | None) -> dict | None:
    return next((e for e in report["targets"] if same_number(e["target_fmr"], target)), None)


def _summary(report: dict, metric: str, target: float | None) -> tuple[float | None, str | None]:
    entry = _entry(report, target)
    if entry is None:
        return None, f"no results at FMR {target:g}"
    summary = entry["summaries"].get(metric)
    if summary is None:
        given = [k for k in entry["summaries"]] or ["none"]
        return None, (
            f"{metric} cannot be computed from this input at FMR {target:g}: it gives "
            f"{', '.join(given)}"
        )
    if summary["value"] is None:
        note = summary.get("note") or "not estimated"
        return (math.inf if "infinite" in note else None), note
    return summary["value"], None


def _rates_behind(entry: dict, metric: str) -> list[tuple[str, dict]]:
    """``(label, estimate)`` of each group's rate the summary ``metric`` rests on."""
    rows = [r for r in entry.get("groups") or [] if isinstance(r, dict)]
    summary = entry["summaries"].get(metric) or {}
    over = summary.get("groups")
    identification = any("fpir" in r for r in rows)
    both = ("apcer", "bpcer") if any("bpcer" in r for r in rows) else ("fmr", "fnmr")  # PAD
    kinds = RATES_BEHIND.get(metric) or (("fpir", "fnir") if identification else both)
    return [(f"{kind.upper()} of {row['group']!r}", row[kind]) for row in rows
            for kind in kinds
            if isinstance(row.get(kind), dict) and (over is None or row["group"] in over)]


def judge_rule(report: dict, rule: GateRule, target: float | None) -> dict:
    """One rule's result: its value and interval, its verdict (``status``) and why."""
    value, note = _summary(report, rule.metric, target)
    low = high = None
    if value is None:
        status = UNEVALUABLE
    else:
        entry = _entry(report, target)
        assert entry is not None
        summary = entry["summaries"][rule.metric]
        low, high = summary.get("low"), summary.get("high")
        minimum = (report.get("provenance") or {}).get("min_identities", MIN_IDENTITIES)
        why = insufficiency(_rates_behind(entry, rule.metric), minimum)
        if why is None and low is None:
            why = summary.get("interval_note") or "no interval (no identities or no bootstrap)"
        if why is not None:
            status, note = INSUFFICIENT, f"{rule.metric}: {why}"
        else:
            # a given lower bound without an upper one: unbounded above (an infinite ratio)
            assert low is not None
            status = interval_verdict(rule.op, float(low),
                                      math.inf if high is None else float(high), rule.limit)
    return {
        "expression": rule.expression,
        "metric": rule.metric,
        "op": rule.op,
        "limit": rule.limit,
        "target_fmr": target,
        "value": value if value is None or math.isfinite(value) else None,
        "low": low,
        "high": high,
        "status": status,
        "note": note,
    }


def evaluate(report: dict, rules: list[GateRule]) -> dict:
    """The report's ``gate`` section: each rule's value, interval and verdict, the gate's
    overall ``verdict`` (the worst rule's), and ``passed`` — only when every rule passes.
    """
    results = []
    for rule in rules:
        target = rule.target_fmr if rule.target_fmr is not None else report["primary_target"]
        results.append(judge_rule(report, rule, target))
    statuses = [r["status"] for r in results]
    return {"passed": all(s == PASS for s in statuses), "verdict": overall_verdict(statuses),
            "rules": results}
