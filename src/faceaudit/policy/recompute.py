"""Judge an audit report by recomputing every gate rule from its per-group numbers.

Nothing a report *concludes* is taken as given: not ``gate.passed``, not the ``summaries``.
The policy's ratios and the auditor's own ``--fail-if`` rules are recomputed from the per-group
FMR and FNMR at the target and their comparison counts; a group's FMR counts only when its
impostor comparisons meet the rule of three (``impostor_pairs >= 3 / target``).

:func:`target_rates` is the one place that knows where the per-group numbers live in
``report.json`` (``targets[i].groups[j]``, schema ``faceaudit.audit/1`` and ``/2``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from faceaudit.audit.gate_rules import OPERATORS, fails, max_min_ratio, rule_of_three, same_number
from faceaudit.base.errors import FaceAuditError
from faceaudit.policy.model import Policy

_FMR_ONLY = {"fmr_ratio", "fmr_difference"}
_FNMR_ONLY = {"fnmr_ratio", "fnmr_difference"}


@dataclass(frozen=True)
class GroupRates:
    """One group's rates at one target and the comparison counts behind them."""

    group: str
    fmr: float | None
    fnmr: float | None
    impostor_pairs: int | None
    genuine_pairs: int | None


@dataclass(frozen=True)
class TargetRates:
    """The per-group rates of one target FMR."""

    target_fmr: float
    groups: tuple[GroupRates, ...]

    def fmr_groups(self) -> list[GroupRates]:
        """Groups whose FMR is measured on enough impostor comparisons (rule of three)."""
        need = rule_of_three(self.target_fmr)
        return [g for g in self.groups if g.fmr is not None and g.impostor_pairs is not None
                and g.impostor_pairs >= need]

    def fnmr_groups(self) -> list[GroupRates]:
        """Groups whose FNMR rests on at least one genuine comparison."""
        return [g for g in self.groups if g.fnmr is not None and (g.genuine_pairs or 0) > 0]


@dataclass(frozen=True)
class Verdict:
    """The recomputed judgement: ``rule``/``detail`` of the first failure, or passed."""

    passed: bool
    rule: str | None
    detail: str
    fmr_ratio: float | None = None
    fnmr_ratio: float | None = None
    # identification audits (faceaudit.policy.identification): the 1:N ratios, and the
    # gallery size they were taken at
    fpir_ratio: float | None = None
    fnir_ratio: float | None = None
    gallery_size: int | None = None
    kind: str = "verification"

    def to_dict(self) -> dict[str, Any]:
        """``{"passed", "rule", "detail", "recomputed": {"fmr_ratio", "fnmr_ratio"}}``; for an
        identification audit ``recomputed`` holds ``fpir_ratio``, ``fnir_ratio`` and
        ``gallery_size`` instead."""
        recomputed: dict[str, Any] = {"fmr_ratio": _finite(self.fmr_ratio),
                                      "fnmr_ratio": _finite(self.fnmr_ratio)}
        if self.kind == "identification":
            recomputed = {"fpir_ratio": _finite(self.fpir_ratio),
                          "fnir_ratio": _finite(self.fnir_ratio),
                          "gallery_size": self.gallery_size}
        return {"passed": self.passed, "rule": self.rule, "detail": self.detail,
                "recomputed": recomputed}


def _rate(value: Any) -> float | None:
    if isinstance(value, dict):
        value = value.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) and 0.0 <= value <= 1.0 else None


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def target_rates(report: dict[str, Any], fmr: float | None) -> TargetRates | None:
    """The per-group rates of ``report`` at target ``fmr``, or None when it has no such target."""
    if fmr is None:
        return None
    for target in _list(report.get("targets")):
        value = target.get("target_fmr") if isinstance(target, dict) else None
        if value is not None and same_number(value, fmr):
            groups = tuple(
                GroupRates(str(g.get("group")), _rate(g.get("fmr")), _rate(g.get("fnmr")),
                           _count(g.get("impostor_pairs")), _count(g.get("genuine_pairs")))
                for g in _list(target.get("groups")) if isinstance(g, dict)
            )
            return TargetRates(float(value), groups)
    return None


def usable_target_problem(report: dict[str, Any], fmr: float) -> str | None:
    """Why ``report`` cannot be judged at ``fmr`` (no such target, or fewer than two groups
    with a supported FMR and an FNMR), or None when it can."""
    rates = target_rates(report, fmr)
    if rates is None:
        return f"the audit does not measure the deployed operating point FMR {fmr:g}"
    both = {g.group for g in rates.fmr_groups()} & {g.group for g in rates.fnmr_groups()}
    if len(both) < 2:
        return (f"at FMR {fmr:g} fewer than two groups have an FMR on enough impostor "
                f"comparisons (>= {rule_of_three(fmr)}) and an FNMR")
    return None


def judge(policy: Policy, report: dict[str, Any]) -> Verdict:
    """Recompute the policy's bias-gate rules and the report's own rules from per-group data."""
    gate = policy.bias_gate
    fmr = policy.fmr_target
    problem = usable_target_problem(report, fmr)
    if problem is not None:
        return Verdict(False, "audit-target-missing", problem)
    rates = target_rates(report, fmr)
    assert rates is not None
    fmr_groups, fnmr_groups = rates.fmr_groups(), rates.fnmr_groups()
    covered = {g.group for g in fmr_groups} & {g.group for g in fnmr_groups}
    missing = [g for g in gate.required_groups if g not in covered]
    fmr_ratio = max_min_ratio([g.fmr for g in fmr_groups if g.fmr is not None])
    fnmr_ratio = max_min_ratio([g.fnmr for g in fnmr_groups if g.fnmr is not None])
    if missing:
        return Verdict(False, "audit-groups-missing",
                       f"required group(s) not covered at FMR {fmr:g}: {', '.join(missing)}",
                       fmr_ratio, fnmr_ratio)
    for name, value, limit, rule in (
        ("fmr_ratio", fmr_ratio, gate.max_fmr_ratio, "audit-fmr-ratio"),
        ("fnmr_ratio", fnmr_ratio, gate.max_fnmr_ratio, "audit-fnmr-ratio"),
    ):
        if value is None:
            return Verdict(False, rule, f"{name} could not be estimated from the per-group rates",
                           fmr_ratio, fnmr_ratio)
        if value > limit:
            return Verdict(False, rule,
                           f"{name} {value:.3g} (recomputed from the per-group rates) exceeds "
                           f"the policy's {limit:g}", fmr_ratio, fnmr_ratio)
    own = _own_rules_problem(report)
    if own is not None:
        return Verdict(False, "audit-gate-failed", own, fmr_ratio, fnmr_ratio)
    return Verdict(True, None, "passes the policy's bias gate (recomputed from the per-group "
                   "rates)", fmr_ratio, fnmr_ratio)


def report_alpha(report: dict[str, Any]) -> float:
    """The weight ``alpha`` the report's combined summaries used (``provenance.alpha``), or
    the default 0.5 when it states none in [0, 1]."""
    alpha = (report.get("provenance") or {}).get("alpha", 0.5)
    return float(alpha if isinstance(alpha, int | float) and 0 <= alpha <= 1 else 0.5)


def recompute_summary(report: dict[str, Any], metric: str, fmr: float | None) -> float | None:
    """One fairness summary recomputed from the per-group rates at ``fmr`` (None: not
    estimable). FMR-only summaries use the groups with a supported FMR, FNMR-only ones every
    group with an FNMR, the others the groups with both."""
    import numpy as np  # here, not at the top: `faceaudit policy` starts without numpy

    from faceaudit.audit import fairness

    rates = target_rates(report, fmr)
    if rates is None or metric not in fairness.SUMMARY_KEYS:
        return None
    fmr_ok = {g.group for g in rates.fmr_groups()}
    fnmr_ok = {g.group for g in rates.fnmr_groups()}
    if metric in _FMR_ONLY:
        chosen = [g for g in rates.groups if g.group in fmr_ok]
    elif metric in _FNMR_ONLY:
        chosen = [g for g in rates.groups if g.group in fnmr_ok]
    else:
        chosen = [g for g in rates.groups if g.group in fmr_ok & fnmr_ok]
    if len(chosen) < 2:
        return None
    fm = np.array([g.fmr if g.fmr is not None else np.nan for g in chosen])
    fn = np.array([g.fnmr if g.fnmr is not None else np.nan for g in chosen])
    try:
        values = fairness.summaries(fm, fn, 1 - (fm + fn) / 2, report_alpha(report))
    except FaceAuditError:
        return None
    value = float(values[metric])
    return None if math.isnan(value) else value


def _own_rules_problem(report: dict[str, Any]) -> str | None:
    gate = report.get("gate")
    rules = gate.get("rules") if isinstance(gate, dict) else None
    if rules is not None and not isinstance(rules, list):
        return "the audit's own gate rules are malformed"
    for rule in rules or []:
        if not isinstance(rule, dict):
            return "the audit's own gate rules are malformed"
        op, limit = rule.get("op"), rule.get("limit")
        if op not in OPERATORS or not isinstance(limit, int | float):
            return f"the audit's own rule {rule.get('expression')!r} is malformed"
        target = rule.get("target_fmr")
        value = recompute_summary(report, str(rule.get("metric")),
                                  target if isinstance(target, int | float) else None)
        if value is None:
            return (f"the audit's own rule {rule.get('expression')!r} cannot be evaluated from "
                    "the per-group rates")
        if fails(op, value, limit):
            return (f"the audit's own rule {rule.get('expression')!r} fails: recomputed "
                    f"{rule.get('metric')} {value:.3g}")
    return None
