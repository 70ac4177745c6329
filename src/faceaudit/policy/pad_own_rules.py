"""The auditor's own ``--fail-if`` rules of a PAD report, recomputed from its per-group counts
(never read from its ``gate``): ``bpcer_*``, ``apcer_*`` and ``iapmr_*`` ``ratio`` (max/min,
on its recomputed interval, as the policy's own rules), ``max_geomean`` (max / geometric
mean, on its interval) and ``difference`` (max − min, on its value), each at the rule's own
point (``@x``: BPCER at APCER ``x``; without, the report's primary point). A rule over the
combined summaries (``inequity``, ``fdr``, ``garbe``) cannot be recomputed from the counts
alone and refuses, as a malformed rule does."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from faceaudit.audit.gate_rules import (
    OPERATORS,
    fails,
    interval_verdict,
    max_geomean_ratio,
    max_min_ratio,
)
from faceaudit.policy.model import Policy
from faceaudit.policy.pad_counts import group_rates, iapmr_rates, point_at, point_words
from faceaudit.policy.recompute import decide, judge_ratio

RULE = "audit-gate-failed"
KINDS = ("ratio", "max_geomean", "difference")


def _values(point: dict[str, Any], rate: str) -> dict[str, dict[str, Any]] | None:
    bpcer, apcer = group_rates(point)
    return {"bpcer": bpcer, "apcer": apcer, "iapmr": iapmr_rates(point)}.get(rate)


def own_rules_problem(report: dict[str, Any], policy: Policy) -> tuple[str, str] | None:
    """The first of the report's own rules that refuses, as ``(rule, detail)``, or None."""
    gate = report.get("gate")
    rules = gate.get("rules") if isinstance(gate, dict) else None
    if rules is not None and not isinstance(rules, list):
        return RULE, "the audit's own gate rules are malformed"
    for rule in rules or []:
        if not isinstance(rule, dict) or rule.get("op") not in OPERATORS \
                or isinstance(rule.get("limit"), bool) \
                or not isinstance(rule.get("limit"), int | float):
            return RULE, "the audit's own gate rules are malformed"
        expression, limit, op = rule.get("expression"), float(rule["limit"]), rule["op"]
        rate, _, kind = str(rule.get("metric")).partition("_")
        point = point_at(report, rule.get("apcer_target", rule.get("target_fmr")))
        rates = _values(point, rate) if point is not None and kind in KINDS else None
        values = [e["value"] for e in (rates or {}).values()]
        if point is None or rates is None or len(values) < 2:
            return RULE, (f"the audit's own rule {expression!r} cannot be evaluated from the "
                          "per-group counts")
        if kind == "difference":
            value: float | None = max(values) - min(values)
        elif max(values) == 0.0:
            value = 1.0  # every group at 0: equal rates
        else:
            value = (max_min_ratio if kind == "ratio" else max_geomean_ratio)(values)
        where = f"{point_words(point)} (the audit's own rule {expression!r}, recomputed)"
        if kind == "difference":
            assert value is not None
            if fails(op, value, limit):
                return RULE, f"the audit's own rule {expression!r} fails: recomputed " \
                             f"{rule.get('metric')} {value:.3g} {where}"
            continue
        judged = judge_ratio(str(rule.get("metric")), value,
                             [(f"{rate.upper()} of {g!r}", e) for g, e in rates.items()],
                             limit, policy.bias_gate.min_identities)
        if judged.low is not None and judged.high is not None:
            judged = replace(judged, verdict=interval_verdict(op, judged.low, judged.high,
                                                              limit))
        refusal = decide([judged], {judged.name: RULE}, policy, where)
        if refusal is not None:
            return refusal
    return None
