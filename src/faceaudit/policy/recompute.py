"""Judge an audit report by recomputing every gate rule from its per-group numbers.

Nothing a report *concludes* is taken as given: not ``gate.passed``, not the ``summaries``.
The policy's ratios and the auditor's own ``--fail-if`` rules are recomputed from the per-group
FMR and FNMR at the target and their comparison counts; a group's FMR counts only when its
impostor comparisons meet the rule of three (``impostor_pairs >= 3 / target``). Each ratio is
judged on its interval, recomputed on the log scale from the groups' own intervals
(:func:`faceaudit.audit.gate_rules.ratio_interval`): beyond the limit over the whole interval
fails (``audit-fmr-ratio`` …), across it is *inconclusive* and a sample too small to judge
(a rate without an interval, or on fewer than ``bias_gate.min_identities`` identities) is
*insufficient* — each refused, as ``audit-inconclusive`` / ``audit-insufficient``, unless the
policy's ``on_inconclusive`` / ``on_insufficient`` is ``"allow"``.

:func:`target_rates` is the one place that knows where the per-group numbers live in
``report.json`` (``targets[i].groups[j]``, schema ``faceaudit.audit/1`` and ``/2``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from faceaudit.audit.gate_rules import (
    FAIL,
    INCONCLUSIVE,
    INSUFFICIENT,
    OPERATORS,
    fails,
    insufficiency,
    interval_verdict,
    max_geomean_interval,
    max_geomean_ratio,
    max_min_ratio,
    ratio_interval,
    rule_of_three,
    same_number,
)
from faceaudit.base.errors import FaceAuditError
from faceaudit.policy.model import Policy

_FMR_ONLY = {"fmr_ratio", "fmr_difference", "fmr_max_geomean"}
_FNMR_ONLY = {"fnmr_ratio", "fnmr_difference", "fnmr_max_geomean"}
# the report's own rules the policy judges on a recomputed interval (the others on the value)
_INTERVAL_RULES = ("fmr_ratio", "fnmr_ratio", "fmr_max_geomean", "fnmr_max_geomean")


@dataclass(frozen=True)
class GroupRates:
    """One group's rates at one target and the comparison counts behind them."""

    group: str
    fmr: float | None
    fnmr: float | None
    impostor_pairs: int | None
    genuine_pairs: int | None
    fmr_estimate: dict[str, Any] | None = None  # value, low, high, identities as reported
    fnmr_estimate: dict[str, Any] | None = None


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
    # each ratio's recomputed interval and verdict (pass, fail, inconclusive, insufficient)
    judged: tuple[RatioJudgement, ...] = ()
    # the audit's worst-group threshold it was judged at (policy ``threshold = "worst-group"``)
    threshold: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """``{"passed", "rule", "detail", "recomputed": {"fmr_ratio", "fnmr_ratio",
        "ratios"}}``; for an identification audit ``recomputed`` holds ``fpir_ratio``,
        ``fnir_ratio`` and ``gallery_size`` instead, for a PAD audit ``bpcer_ratio`` and
        ``apcer_ratio``. ``ratios`` lists each ratio judged with
        its value, interval and verdict."""
        recomputed: dict[str, Any] = {"fmr_ratio": _finite(self.fmr_ratio),
                                      "fnmr_ratio": _finite(self.fnmr_ratio)}
        if self.kind == "identification":
            recomputed = {"fpir_ratio": _finite(self.fpir_ratio),
                          "fnir_ratio": _finite(self.fnir_ratio),
                          "gallery_size": self.gallery_size}
        elif self.kind == "pad":  # faceaudit.policy.pad: BPCER and APCER ratios
            recomputed = {j.name: _finite(j.value) for j in self.judged}
        recomputed["ratios"] = [j.to_dict() for j in self.judged]
        if self.threshold is not None:
            recomputed["worst_group_threshold"] = self.threshold
        return {"passed": self.passed, "rule": self.rule, "detail": self.detail,
                "recomputed": recomputed}


@dataclass(frozen=True)
class RatioJudgement:
    """One max/min ratio judged against a limit on its recomputed interval."""

    name: str
    value: float | None
    low: float | None
    high: float | None
    limit: float
    verdict: str  # pass, fail, inconclusive, insufficient
    why: str | None = None  # why insufficient

    def short(self) -> str:
        """``11.8 [0.61, 229] inconclusive``: value, interval and verdict."""
        value = "n/a" if self.value is None else f"{self.value:.3g}"
        if self.low is None:
            interval = "no interval"
        else:
            high = "inf)" if self.high is None or math.isinf(self.high) else f"{self.high:.3g}]"
            interval = f"[{self.low:.3g}, {high}"
        return f"{value} {interval} {self.verdict}"

    def text(self) -> str:
        """``fmr_ratio 11.8 [0.61, 229] inconclusive against 2``."""
        out = f"{self.name} {self.short()} against {self.limit:g}"
        return out + (f" ({self.why})" if self.why else "")

    def to_dict(self) -> dict[str, Any]:
        """The judgement as JSON."""
        return {"name": self.name, "value": _finite(self.value), "low": _finite(self.low),
                "high": _finite(self.high), "limit": self.limit, "verdict": self.verdict,
                "note": self.why}


def judge_ratio(name: str, value: float | None,
                rates: list[tuple[str, dict[str, Any] | None]], limit: float,
                min_identities: int) -> RatioJudgement:
    """Judge the ratio ``name`` (max/min, or max / geometric mean for a ``*_max_geomean``) of
    the per-group rate estimates ``rates`` (``(label, estimate)``) against ``limit``:
    insufficient when a rate has no interval or rests on fewer than ``min_identities``
    identities, else the three-way verdict on the ratio's interval
    (:func:`faceaudit.audit.gate_rules.ratio_interval`,
    :func:`~faceaudit.audit.gate_rules.max_geomean_interval`)."""
    interval_of = max_geomean_interval if name.endswith("_max_geomean") else ratio_interval
    given = [(label, est) for label, est in rates if isinstance(est, dict)]
    why = None if len(given) == len(rates) else "a group's estimate is missing"
    why = why or insufficiency(given, min_identities)
    interval = None
    if why is None:
        triples = []
        for _, est in given:
            v, lo, hi = (_number(est.get(k)) for k in ("value", "low", "high"))
            if v is None or lo is None or hi is None or not lo <= v <= hi:
                why = "a group's interval is malformed"
                break
            triples.append((v, lo, hi))
        else:
            interval = interval_of(triples)
    if why is not None or interval is None or value is None:
        return RatioJudgement(name, value, None, None, limit, INSUFFICIENT,
                              why or "no interval")
    low, high = interval
    return RatioJudgement(name, value, low, high, limit,
                          interval_verdict(">", low, high, limit))


def decide(judged: list[RatioJudgement], fail_rules: dict[str, str], policy: Policy,
           where: str) -> tuple[str, str] | None:
    """The refusal ``(rule, detail)`` the judged ratios call for, or None when they allow:
    a failing ratio refuses with its own rule (``fail_rules``), then an insufficient one with
    ``audit-insufficient``, then an inconclusive one with ``audit-inconclusive`` — unless the
    policy allows that verdict (``bias_gate.on_insufficient`` / ``on_inconclusive``)."""
    gate = policy.bias_gate
    for j in judged:
        if j.verdict == FAIL:
            return fail_rules[j.name], (f"{j.text()} {where}: the whole interval exceeds the "
                                        f"policy's {j.limit:g}")
    for verdict, rule, setting in ((INSUFFICIENT, "audit-insufficient", gate.on_insufficient),
                                   (INCONCLUSIVE, "audit-inconclusive", gate.on_inconclusive)):
        bad = [j for j in judged if j.verdict == verdict]
        if bad and setting != "allow":
            return rule, (f"{'; '.join(j.text() for j in bad)} {where}: the audit cannot "
                          f"decide ({verdict}), and the policy refuses then")
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _rate(value: Any) -> float | None:
    if isinstance(value, dict):
        value = value.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) and 0.0 <= value <= 1.0 else None


def _estimate(value: Any) -> dict[str, Any] | None:
    return value if isinstance(value, dict) else None


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
                           _count(g.get("impostor_pairs")), _count(g.get("genuine_pairs")),
                           _estimate(g.get("fmr")), _estimate(g.get("fnmr")))
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


def judge(policy: Policy, report: dict[str, Any], rates: TargetRates | None = None,
          at: str | None = None) -> Verdict:
    """Recompute the policy's bias-gate rules and the report's own rules from per-group data:
    the rates at the policy's ``fmr_target`` (``targets``), or the given ``rates`` (another
    threshold's, described by ``at``: :mod:`faceaudit.policy.worst_group`)."""
    gate = policy.bias_gate
    fmr = policy.fmr_target
    if rates is None:
        problem = usable_target_problem(report, fmr)
        if problem is not None:
            return Verdict(False, "audit-target-missing", problem)
        rates = target_rates(report, fmr)
    assert rates is not None
    at = at or f"at FMR {fmr:g}"
    fmr_groups, fnmr_groups = rates.fmr_groups(), rates.fnmr_groups()
    covered = {g.group for g in fmr_groups} & {g.group for g in fnmr_groups}
    missing = [g for g in gate.required_groups if g not in covered]
    fmr_ratio = max_min_ratio([g.fmr for g in fmr_groups if g.fmr is not None])
    fnmr_ratio = max_min_ratio([g.fnmr for g in fnmr_groups if g.fnmr is not None])
    if missing:
        return Verdict(False, "audit-groups-missing",
                       f"required group(s) not covered {at}: {', '.join(missing)}",
                       fmr_ratio, fnmr_ratio)
    judged = []
    limits = [
        ("fmr_ratio", fmr_ratio, gate.max_fmr_ratio, "audit-fmr-ratio", "FMR", fmr_groups),
        ("fnmr_ratio", fnmr_ratio, gate.max_fnmr_ratio, "audit-fnmr-ratio", "FNMR", fnmr_groups),
    ]
    for name, limit_, rule_, kind_, chosen_ in (
        ("fmr_max_geomean", gate.max_fmr_max_geomean, "audit-fmr-max-geomean", "FMR",
         fmr_groups),
        ("fnmr_max_geomean", gate.max_fnmr_max_geomean, "audit-fnmr-max-geomean", "FNMR",
         fnmr_groups),
    ):
        if limit_ is not None:
            rates_ = [g.fmr if kind_ == "FMR" else g.fnmr for g in chosen_]
            limits.append((name, max_geomean_ratio([r for r in rates_ if r is not None]),
                           limit_, rule_, kind_, chosen_))
    fail_rules = {name: rule for name, _, _, rule, _, _ in limits}
    for name, value, limit, rule, kind, chosen in limits:
        if value is None:
            return Verdict(False, rule, f"{name} could not be estimated from the per-group rates",
                           fmr_ratio, fnmr_ratio)
        behind = [(f"{kind} of {g.group!r}",
                   g.fmr_estimate if kind == "FMR" else g.fnmr_estimate) for g in chosen]
        judged.append(judge_ratio(name, value, behind, limit, gate.min_identities))
    where = f"{at} (recomputed from the per-group rates)"
    refusal = decide(judged, fail_rules, policy, where)
    if refusal is not None:
        return Verdict(False, *refusal, fmr_ratio, fnmr_ratio, judged=tuple(judged))
    own = _own_rules_problem(report, policy)
    if own is not None:
        rule_name, detail = own if isinstance(own, tuple) else ("audit-gate-failed", own)
        return Verdict(False, rule_name, detail, fmr_ratio, fnmr_ratio, judged=tuple(judged))
    return Verdict(True, None, f"passes the policy's bias gate {where}: "
                   + "; ".join(j.text() for j in judged), fmr_ratio, fnmr_ratio,
                   judged=tuple(judged))


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


def _own_rules_problem(report: dict[str, Any],
                       policy: Policy | None = None) -> tuple[str, str] | str | None:
    """The first of the report's own ``--fail-if`` rules that refuses, recomputed from the
    per-group rates: a max/min ratio on its recomputed interval (``(rule, detail)``), any
    other summary on its recomputed value (a detail, for ``audit-gate-failed``)."""
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
        target = target if isinstance(target, int | float) else None
        metric = str(rule.get("metric"))
        value = recompute_summary(report, metric, target)
        if value is None:
            return (f"the audit's own rule {rule.get('expression')!r} cannot be evaluated from "
                    "the per-group rates")
        at = target_rates(report, target)
        if metric in _INTERVAL_RULES and at is not None and policy is not None:
            fmr_side = metric.startswith("fmr_")
            chosen = at.fmr_groups() if fmr_side else at.fnmr_groups()
            estimates = [(f"{'FMR' if fmr_side else 'FNMR'} of {g.group!r}",
                          g.fmr_estimate if fmr_side else g.fnmr_estimate) for g in chosen]
            judged = judge_ratio(metric, value, estimates, float(limit),
                                 policy.bias_gate.min_identities)
            if judged.low is not None and judged.high is not None:
                judged = replace(judged, verdict=interval_verdict(op, judged.low, judged.high,
                                                                  float(limit)))
            refusal = decide([judged], {metric: "audit-gate-failed"}, policy,
                             f"(the audit's own rule {rule.get('expression')!r})")
            if refusal is not None:
                return refusal
            continue
        if fails(op, value, limit):
            return (f"the audit's own rule {rule.get('expression')!r} fails: recomputed "
                    f"{rule.get('metric')} {value:.3g}")
    return None
