"""A PAD report's per-group counts, read without trusting anything it concludes: each
group's BPCER and worst-species APCER (and IAPMR) recomputed as errors over trials from the
estimates of ``pad.operating_points[i].groups[j]`` (:mod:`faceaudit.policy.pad`)."""

from __future__ import annotations

from typing import Any

from faceaudit.audit.gate_rules import rule_of_three, same_number
from faceaudit.policy.model import Policy


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 \
        else None


def rate_estimate(estimate: Any) -> tuple[float, dict[str, Any]] | None:
    """(errors / trials, the estimate with that value) from an estimate's counts, or None
    when it has none (no trials, or counts that do not add up)."""
    if not isinstance(estimate, dict):
        return None
    errors, trials = _count(estimate.get("errors")), _count(estimate.get("comparisons"))
    if errors is None or not trials or errors > trials:
        return None
    return errors / trials, {**estimate, "value": errors / trials}


def pad_points(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The report's PAD operating points (``pad.operating_points``), malformed ones left out."""
    section = report.get("pad")
    points = section.get("operating_points") if isinstance(section, dict) else None
    return [p for p in points if isinstance(p, dict)] if isinstance(points, list) else []


def pad_point(report: dict[str, Any], policy: Policy) -> dict[str, Any] | None:
    """The operating point the policy judges: the audit's deployed threshold (the point
    without an APCER target) if it has one, else the one at ``pad_apcer_target``."""
    points = pad_points(report)
    deployed = [p for p in points if p.get("apcer_target") is None]
    if deployed:
        return deployed[0]
    target = policy.bias_gate.pad_apcer_target
    return next((p for p in points if same_number(p.get("apcer_target"), target)), None)


def point_words(point: dict[str, Any]) -> str:
    """Where ``point`` lies, in words (its APCER target or the deployed threshold)."""
    target = point.get("apcer_target")
    if target is None:
        return f"at the deployed PAD threshold {point.get('threshold')!r}"
    return f"at APCER {float(target):g} (threshold {point.get('threshold')!r})"


def group_rates(point: dict[str, Any]) -> tuple[dict[str, dict[str, Any]],
                                                dict[str, dict[str, Any]]]:
    """Each group's recomputed BPCER estimate and worst-species APCER estimate at ``point``
    (a group without bona fide presentations, or short of the attacks the APCER target needs,
    is left out of that rate)."""
    target = point.get("apcer_target")
    need = rule_of_three(float(target)) if isinstance(target, int | float) else 0
    bpcer: dict[str, dict[str, Any]] = {}
    apcer: dict[str, dict[str, Any]] = {}
    for group in point.get("groups") or []:
        if not isinstance(group, dict):
            continue
        name = str(group.get("group"))
        if (b := rate_estimate(group.get("bpcer"))) is not None:
            bpcer[name] = b[1]
        species = group.get("species")
        rates = [r for est in (species.values() if isinstance(species, dict) else ())
                 if (r := rate_estimate(est)) is not None]
        if rates and all((_count(r[1].get("comparisons")) or 0) >= need for r in rates):
            apcer[name] = max(rates, key=lambda r: r[0])[1]
    return bpcer, apcer


def point_at(report: dict[str, Any], target: Any) -> dict[str, Any] | None:
    """The operating point at APCER ``target`` (None: the deployed-threshold point)."""
    for point in pad_points(report):
        at = point.get("apcer_target")
        if (target is None and at is None) or (
                isinstance(target, int | float) and same_number(at, float(target))):
            return point
    return None


def iapmr_rates(point: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each group's recomputed IAPMR estimate at ``point`` (groups with attack comparisons)."""
    out = {}
    for group in point.get("groups") or []:
        if isinstance(group, dict) and (r := rate_estimate(group.get("iapmr"))) is not None:
            out[str(group.get("group"))] = r[1]
    return out
