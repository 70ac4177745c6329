"""The worst-group threshold a policy may adopt (``threshold = "worst-group"``, issue 24).

NIST IR 8280's mitigation: one global threshold, set so that the worst-served group meets the
target — never per-group thresholds. The audit's ``--operating-points`` section recommends it
(:mod:`faceaudit.audit.operating_points`): the lowest grid threshold at which every supported
group's FMR upper bound is at most the target. A deployment whose policy says
``threshold = "worst-group"`` verifies and identifies at the threshold that the registered
audit in force recommends at the policy's ``fmr_target``, and the gate judges that audit's
per-group rates *at that threshold* (the recommended grid row), not at the calibrated one.
An audit without that section or without a recommendation at the target refuses
(:data:`MISSING_RULE`): a deployment never falls back silently to another threshold.

This module reads the report (plain data in, plain data out); the gate
(:mod:`faceaudit.policy.gate`) decides which audit is in force.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from faceaudit.audit.gate_rules import same_number
from faceaudit.policy.errors import PolicyError
from faceaudit.policy.model import Policy
from faceaudit.policy.recompute import GroupRates, TargetRates, Verdict, judge, target_rates

WORST_GROUP = "worst-group"
#: the gate's rule when the policy adopts the worst-group threshold and the audit lacks it
MISSING_RULE = "worst-group-threshold-missing"


def adopts_worst_group(policy: Policy) -> bool:
    """Whether ``policy`` adopts the audit's worst-group threshold."""
    return policy.threshold == WORST_GROUP


def worst_group_entry(report: dict[str, Any], fmr: float) -> dict[str, Any] | None:
    """The report's ``operating_points`` entry for target ``fmr``, or None."""
    entries = report.get("operating_points")
    if not isinstance(entries, list):
        return None
    for entry in entries:
        if isinstance(entry, dict) and same_number(entry.get("target_fmr"), fmr):
            return entry
    return None


def recommended_point(report: dict[str, Any], fmr: float) -> dict[str, Any] | None:
    """The grid row the report recommends at target ``fmr`` (its ``threshold`` a finite
    number and its ``groups`` a list), or None."""
    entry = worst_group_entry(report, fmr)
    if entry is None:
        return None
    for point in entry.get("grid") or []:
        if not isinstance(point, dict) or point.get("recommended") is not True:
            continue
        threshold = point.get("threshold")
        if not same_number(threshold, entry.get("recommended_threshold")):
            return None  # the entry contradicts itself: no recommendation to rely on
        if isinstance(point.get("groups"), list):
            return point
    return None


def missing_problem(report: dict[str, Any], fmr: float) -> str | None:
    """Why ``report`` gives no worst-group threshold at ``fmr`` (None when it gives one)."""
    entry = worst_group_entry(report, fmr)
    if entry is None:
        return (f"the policy adopts the worst-group threshold, but the audit has no "
                f"operating_points section at FMR {fmr:g} (audit with --operating-points)")
    if (report.get("provenance") or {}).get("higher_is_better") is False:
        return ("the audit's scores are distances (lower is better), not the deployment's "
                "similarity scores: its thresholds cannot be adopted")
    if recommended_point(report, fmr) is None:
        note = entry.get("note")
        return (f"the audit recommends no worst-group threshold at FMR {fmr:g}"
                + (f" ({note})" if isinstance(note, str) and note else ""))
    return None


def adopted_threshold(report: dict[str, Any], fmr: float) -> float | None:
    """The worst-group threshold ``report`` recommends at ``fmr``, or None."""
    if missing_problem(report, fmr) is not None:
        return None
    point = recommended_point(report, fmr)
    assert point is not None
    return float(point["threshold"])


def _count(estimate: Any) -> int | None:
    value = estimate.get("comparisons") if isinstance(estimate, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 \
        else None


def rates_at_point(report: dict[str, Any], fmr: float) -> TargetRates | None:
    """Each group's FMR and FNMR at the recommended grid row of target ``fmr``, with their
    comparison counts (the row's own, else the report's ``targets`` entry's)."""
    point = recommended_point(report, fmr)
    if point is None:
        return None
    counted = target_rates(report, fmr)
    counts = {g.group: g for g in (counted.groups if counted else ())}
    groups = []
    for row in point["groups"]:
        if not isinstance(row, dict):
            continue
        name = str(row.get("group"))
        fmr_est, fnmr_est = row.get("fmr"), row.get("fnmr")
        known = counts.get(name)
        impostors = _count(fmr_est) if _count(fmr_est) is not None else (
            known.impostor_pairs if known else None)
        genuine = _count(fnmr_est) if _count(fnmr_est) is not None else (
            known.genuine_pairs if known else None)
        groups.append(GroupRates(
            name,
            _value(fmr_est) if row.get("supported") is True else None,
            _value(fnmr_est), impostors, genuine,
            fmr_est if isinstance(fmr_est, dict) else None,
            fnmr_est if isinstance(fnmr_est, dict) else None))
    return TargetRates(fmr, tuple(groups))


def _value(estimate: Any) -> float | None:
    value = estimate.get("value") if isinstance(estimate, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if 0.0 <= value <= 1.0 else None


def judge_for_policy(policy: Policy, report: dict[str, Any]) -> Verdict:
    """Judge a 1:1 ``report`` for ``policy`` at the threshold the deployment would use: the
    calibrated one (:func:`faceaudit.policy.recompute.judge`), or — when the policy adopts
    the worst-group threshold — the report's recommended grid row at ``fmr_target``, the
    verdict carrying that ``threshold`` (refused as :data:`MISSING_RULE` without one)."""
    if not adopts_worst_group(policy):
        return judge(policy, report)
    fmr = policy.fmr_target
    problem = missing_problem(report, fmr)
    rates = rates_at_point(report, fmr)
    if problem is not None or rates is None:
        return Verdict(False, MISSING_RULE, problem or "no worst-group threshold")
    threshold = adopted_threshold(report, fmr)
    verdict = judge(policy, report, rates,
                    at=f"at the worst-group threshold {threshold:.6g} (target FMR {fmr:g})")
    return replace(verdict, threshold=threshold)


def operating_threshold(policy: Policy, gate: dict[str, Any] | None,
                        calibrated: Callable[[float], float]) -> float:
    """The threshold an identify or verify runs at: the worst-group threshold the gate
    adopted (its :func:`~faceaudit.policy.gate.gate_record`'s ``threshold``) when the policy
    adopts one, else ``calibrated(fmr_target)`` (the shipped calibration's)."""
    if adopts_worst_group(policy):
        adopted = (gate or {}).get("threshold")
        if not isinstance(adopted, dict) or not isinstance(adopted.get("value"), float):
            raise PolicyError("the policy adopts the worst-group threshold but the gate gave "
                              "none (a gate that passes always does)")
        return float(adopted["value"])
    return calibrated(policy.fmr_target)
