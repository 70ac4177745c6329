"""The audit gate: ``--fail-if 'fmr_ratio>2'`` rules checked against the report's summaries."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from faceaudit.audit.fairness import IDENTIFICATION_SUMMARY_KEYS, SUMMARY_KEYS
from faceaudit.audit.gate_rules import OPERATORS, fails, same_number
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
    known = tuple(dict.fromkeys(SUMMARY_KEYS + IDENTIFICATION_SUMMARY_KEYS))
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


def _summary(report: dict, metric: str, target: float | None) -> tuple[float | None, str | None]:
    entry = next((e for e in report["targets"] if same_number(e["target_fmr"], target)), None)
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


def evaluate(report: dict, rules: list[GateRule]) -> dict:
    """The report's ``gate`` section: each rule's value and status, and whether all passed.

    A rule whose summary cannot be estimated is ``unevaluable`` and fails the gate.
    """
    results = []
    for rule in rules:
        target = rule.target_fmr if rule.target_fmr is not None else report["primary_target"]
        value, note = _summary(report, rule.metric, target)
        if value is None:
            status = "unevaluable"
        else:
            status = "fail" if fails(rule.op, value, rule.limit) else "pass"
        results.append(
            {
                "expression": rule.expression,
                "metric": rule.metric,
                "op": rule.op,
                "limit": rule.limit,
                "target_fmr": target,
                "value": value if value is None or math.isfinite(value) else None,
                "status": status,
                "note": note,
            }
        )
    return {"passed": all(r["status"] == "pass" for r in results), "rules": results}
