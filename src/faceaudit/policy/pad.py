"""Judge a presentation attack detection (PAD) audit for ``verify``: recompute each group's
BPCER and APCER from the report's counts and judge their max/min ratios on the interval.

A PAD report (``provenance.input_kind == "pad"``, from ``faceaudit audit --pad-scores``) names
the PAD system it measured (``provenance.pad_system``, ``NAME:VERSION``) instead of a model
file. It is judged at one operating point of its ``pad`` section: the vendor's deployed
threshold when the audit measured one (``--pad-threshold``, the point without an APCER
target), else BPCER at the policy's ``bias_gate.pad_apcer_target`` (default APCER 5 %,
BPCER20). Each group's BPCER is its rejected bona fide presentations over its bona fide
presentations; its APCER is that of its worst species (accepted attacks over attacks of that
species), a group counting for APCER only with, of every species it was attacked with, the
attacks the rule of three needs for the target. The ``summaries`` and the report's own
``gate`` verdict are never read; its own ``--fail-if`` rules are recomputed from the counts
(:mod:`faceaudit.policy.pad_own_rules`). ``bpcer_ratio`` and ``apcer_ratio`` (max/min over
groups) are judged against ``bias_gate.max_bpcer_ratio`` / ``max_apcer_ratio`` on their
log-scale intervals, the three-way verdict of the other rules
(:mod:`faceaudit.audit.gate_rules`).
"""

from __future__ import annotations

from typing import Any

from faceaudit.audit.gate_rules import max_min_ratio
from faceaudit.audit.pad_system import is_pad_system
from faceaudit.policy.model import Policy
from faceaudit.policy.pad_counts import group_rates, pad_point, point_words
from faceaudit.policy.pad_own_rules import own_rules_problem
from faceaudit.policy.recompute import Verdict, decide, judge_ratio

PAD_MODE = "pad"
PAD_RULES = {"bpcer_ratio": "audit-bpcer-ratio", "apcer_ratio": "audit-apcer-ratio"}


def is_pad(report: dict[str, Any]) -> bool:
    """Whether ``report`` is a PAD audit (by its provenance)."""
    prov = report.get("provenance")
    return isinstance(prov, dict) and prov.get("input_kind") == "pad"


def pad_system(report: dict[str, Any]) -> str | None:
    """The well-formed ``NAME:VERSION`` of the PAD system the report measured, or None."""
    prov = report.get("provenance")
    value = prov.get("pad_system") if isinstance(prov, dict) else None
    return value if is_pad_system(value) else None


def usable_pad_problem(report: dict[str, Any], policy: Policy) -> str | None:
    """Why a PAD report cannot be judged for this deployment, or None: it names no PAD
    system, or has no operating point the policy judges, or fewer than two groups there
    with both a BPCER and a supported APCER."""
    if pad_system(report) is None:
        return ("the PAD audit does not name the PAD system it measured (provenance."
                "pad_system, NAME:VERSION: faceaudit audit --pad-scores … --pad-system)")
    point = pad_point(report, policy)
    if point is None:
        return (f"the PAD audit measures neither a deployed PAD threshold nor BPCER at the "
                f"policy's APCER {policy.bias_gate.pad_apcer_target:g}")
    bpcer, apcer = group_rates(point)
    if len(set(bpcer) & set(apcer)) < 2:
        return (f"{point_words(point)} fewer than two groups have both a BPCER and an APCER on "
                "enough attack presentations")
    return None


def judge_pad(policy: Policy, report: dict[str, Any]) -> Verdict:
    """Recompute the policy's PAD rules from the per-group counts of ``report``."""
    problem = usable_pad_problem(report, policy)
    if problem is not None:
        return Verdict(False, "audit-target-missing", problem, kind=PAD_MODE)
    point = pad_point(report, policy)
    assert point is not None
    gate = policy.bias_gate
    bpcer, apcer = group_rates(point)
    where = f"{point_words(point)} (recomputed from the per-group counts)"
    covered = set(bpcer) & set(apcer)
    missing = [g for g in gate.required_groups if g not in covered]
    if missing:
        return Verdict(False, "audit-groups-missing",
                       f"required group(s) not covered {where}: {', '.join(missing)}",
                       kind=PAD_MODE)
    judged = []
    for name, rates, limit, kind in (("bpcer_ratio", bpcer, gate.max_bpcer_ratio, "BPCER"),
                                     ("apcer_ratio", apcer, gate.max_apcer_ratio, "APCER")):
        values = [e["value"] for e in rates.values()]
        # every group at 0 errors: equal rates (their intervals still decide the verdict)
        value = 1.0 if len(values) >= 2 and max(values) == 0.0 else max_min_ratio(values)
        if value is None:
            return Verdict(False, PAD_RULES[name],
                           f"{name} could not be estimated from the per-group counts {where}",
                           kind=PAD_MODE)
        behind: list[tuple[str, dict[str, Any] | None]] = [
            (f"{kind} of {g!r}", e) for g, e in rates.items()]
        judged.append(judge_ratio(name, value, behind, limit, gate.min_identities))
    refusal = decide(judged, PAD_RULES, policy, where) or own_rules_problem(report, policy)
    if refusal is not None:
        return Verdict(False, *refusal, kind=PAD_MODE, judged=tuple(judged))
    return Verdict(True, None, f"passes the policy's PAD gate {where}: "
                   + "; ".join(j.text() for j in judged), kind=PAD_MODE, judged=tuple(judged))
