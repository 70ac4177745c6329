"""The bias gate: does the deployed backend have a passing, recent audit?"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from faceaudit.home import Home
from faceaudit.policy.audits import AuditRecord, list_audits
from faceaudit.policy.model import Policy


@dataclass(frozen=True)
class GateResult:
    """Outcome of the gate: ``passed``, else the ``rule`` that failed and why.

    ``audit_id`` is the passing audit, or the newest audit considered when none passed.
    """

    passed: bool
    rule: str | None
    detail: str
    audit_id: str | None


# When several audits fail for different reasons, the most telling one is reported.
_RULE_ORDER = (
    "audit-fmr-ratio",
    "audit-fnmr-ratio",
    "audit-groups-missing",
    "audit-target-missing",
    "audit-gate-failed",
)


def evaluate_gate(policy: Policy, home: Home, backend_id: str | None, now: datetime) -> GateResult:
    """Check the registered audits of ``backend_id`` against ``policy.bias_gate`` at ``now``."""
    if backend_id is None:
        return GateResult(False, "no-audit", "no backend named, so no audit can apply", None)
    audits = list_audits(home, backend_id)
    if not audits:
        return GateResult(False, "no-audit", f"no registered audit of {backend_id}", None)
    max_age = timedelta(days=policy.bias_gate.max_audit_age_days)
    fresh = [a for a in audits if now - a.created_at <= max_age]
    if not fresh:
        newest = audits[0]
        age = (now - newest.created_at).days
        return GateResult(
            False,
            "stale-audit",
            f"newest audit of {backend_id} ({newest.audit_id}) is {age} days old; "
            f"the policy allows {policy.bias_gate.max_audit_age_days:g}",
            newest.audit_id,
        )
    failures = []
    for audit in fresh:
        problem = audit_problem(policy, audit)
        if problem is None:
            return GateResult(True, None, f"audit {audit.audit_id} passes", audit.audit_id)
        failures.append((problem[0], problem[1], audit.audit_id))
    rule, detail, audit_id = min(failures, key=lambda f: _RULE_ORDER.index(f[0]))
    return GateResult(False, rule, f"audit {audit_id}: {detail}", audit_id)


def audit_problem(policy: Policy, audit: AuditRecord) -> tuple[str, str] | None:
    """Return ``(rule, detail)`` for the first gate rule ``audit`` fails, or None if it passes.

    Ratios are read at the policy's ``fmr_target`` (the deployed operating point); a ratio
    that the audit could not estimate fails.
    """
    gate = policy.bias_gate
    report = audit.report
    target = _target(report, policy.fmr_target)
    if target is None:
        return (
            "audit-target-missing",
            f"the audit does not measure the deployed operating point FMR {policy.fmr_target:g}",
        )
    groups = {g.get("group"): g for g in target.get("groups", []) if isinstance(g, dict)}
    missing = [g for g in gate.required_groups if not groups.get(g, {}).get("supported")]
    if missing:
        return (
            "audit-groups-missing",
            f"required group(s) not covered at FMR {policy.fmr_target:g}: {', '.join(missing)}",
        )
    for metric, limit, rule in (
        ("fmr_ratio", gate.max_fmr_ratio, "audit-fmr-ratio"),
        ("fnmr_ratio", gate.max_fnmr_ratio, "audit-fnmr-ratio"),
    ):
        value = _value(target["summaries"].get(metric))
        if value is None:
            return rule, f"{metric} could not be estimated"
        if value > limit:
            return rule, f"{metric} {value:.3g} exceeds the policy's {limit:g}"
    gate_result = report.get("gate")
    if isinstance(gate_result, dict) and gate_result.get("passed") is False:
        return "audit-gate-failed", "the audit failed its own --fail-if rules"
    return None


def _target(report: dict[str, Any], fmr: float) -> dict[str, Any] | None:
    for target in report["targets"]:
        value = target.get("target_fmr")
        if (
            isinstance(value, int | float)
            and math.isclose(value, fmr, rel_tol=1e-9)
            and target.get("supported", True)
        ):
            return target
    return None


def _value(estimate: Any) -> float | None:
    if isinstance(estimate, dict):
        value = estimate.get("value")
        if isinstance(value, int | float) and math.isfinite(value):
            return float(value)
    return None
