"""Judge an identification (1:N) audit for a deployment: recompute FPIR and FNIR per probe
group from the report's counts at the deployment's operating point and gallery size.

An identification report (``provenance.protocol == "identification"``, schema in
docs/report-schema.md) speaks for ``identify`` only. It counts when it measures the policy's
``fmr_target`` at the threshold the deployment uses (the backend's shipped calibration) with
the policy's ``max_candidates``, and a gallery at least as large as the one enrolled now. Each
group's FPIR and FNIR are recomputed as errors / searches from the report's counts; the
``summaries`` and ``gate.passed`` it states are never read. The FPIR ratio is taken at the
smallest measured gallery size at or above the current one, the FNIR ratio at the audited size
(the largest measured). See docs/policy.md.
"""

from __future__ import annotations

import math
from typing import Any

from faceaudit.audit.gate_rules import OPERATORS, fails, max_min_ratio, same_number
from faceaudit.base.home import Home
from faceaudit.policy.model import Policy
from faceaudit.policy.recompute import Verdict, decide, judge_ratio, report_alpha

IDENTIFICATION_MODE = "identification"


def is_identification(report: dict[str, Any]) -> bool:
    """Whether ``report`` is an identification audit (by its provenance protocol)."""
    prov = report.get("provenance")
    return isinstance(prov, dict) and prov.get("protocol") == IDENTIFICATION_MODE


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 \
        else None


def _rate(estimate: Any) -> tuple[float, int] | None:
    """(errors / searches, searches) from an estimate's counts, or None when unusable."""
    if not isinstance(estimate, dict):
        return None
    errors, searches = _int(estimate.get("errors")), _int(estimate.get("comparisons"))
    if errors is None or not searches or errors > searches:
        return None
    return errors / searches, searches


def _points(report: dict[str, Any]) -> list[dict[str, Any]]:
    section = report.get("identification")
    points = section.get("operating_points") if isinstance(section, dict) else None
    return [p for p in points if isinstance(p, dict)] if isinstance(points, list) else []


def deployed_threshold(backend_id: str, fmr: float) -> float | None:
    """The threshold a deployment of ``backend_id`` uses at ``fmr`` (its shipped calibration),
    or None when none ships or it cannot support ``fmr``."""
    from faceaudit.base.errors import CalibrationError
    from faceaudit.engine.calibration import load_calibration

    try:
        return load_calibration(backend_id=backend_id).threshold_for(fmr)
    except CalibrationError:
        return None


def operating_point(report: dict[str, Any], policy: Policy) -> dict[str, Any] | None:
    """The report's operating point at the policy's ``fmr_target`` and ``max_candidates``."""
    for point in _points(report):
        if same_number(point.get("target_fmr"), policy.fmr_target) and \
                point.get("candidates") == policy.max_candidates:
            return point
    return None


def usable_problem(report: dict[str, Any], policy: Policy,
                   threshold: float | None = None, *, any_threshold: bool = False) -> str | None:
    """Why an identification report cannot be judged for this deployment, or None; the
    deployment searches at ``threshold`` when given (an adopted worst-group threshold), else
    at its shipped calibration's — or, with ``any_threshold`` (registering under a policy
    that adopts the worst-group threshold, which the gate knows only at use), at the one the
    report searched at."""
    fmr, r = policy.fmr_target, policy.max_candidates
    point = operating_point(report, policy)
    if point is None:
        return (f"the identification audit does not measure the deployment's operating point "
                f"(FMR {fmr:g} with {r} candidates per search)")
    backend = str((report.get("provenance") or {}).get("backend_id"))
    if any_threshold:
        threshold = point.get("threshold")
    elif threshold is None:
        threshold = deployed_threshold(backend, fmr)
    if threshold is None or not same_number(point.get("threshold"), threshold):
        return (f"the identification audit searched at threshold {point.get('threshold')!r}, "
                f"not at the deployment's threshold {threshold!r} for FMR {fmr:g}")
    groups = [g for g in point.get("groups") or [] if isinstance(g, dict)]
    both = [g for g in groups if _rate(g.get("fpir")) and _rate(g.get("fnir"))]
    if len(both) < 2:
        return (f"at FMR {fmr:g} fewer than two probe groups have both non-mated and mated "
                "searches")
    return None


def _size_entry(point: dict[str, Any], gallery_size: int) -> dict[str, Any] | None:
    """The smallest measured gallery size at or above ``gallery_size``, as
    ``{"size", "groups": {name: fpir estimate}}``."""
    audited = _int(point.get("gallery_size"))
    candidates: list[dict[str, Any]] = []
    for entry in point.get("gallery_sizes") or []:
        size = _int(entry.get("size")) if isinstance(entry, dict) else None
        if size is None or size < gallery_size or size == audited or not entry.get("measured"):
            continue
        groups = {str(g.get("group")): g.get("fpir") for g in entry.get("groups") or []
                  if isinstance(g, dict)}
        candidates.append({"size": size, "groups": groups})
    if audited is not None and audited >= gallery_size:
        candidates.append({"size": audited, "groups": {
            str(g.get("group")): g.get("fpir") for g in point.get("groups") or []
            if isinstance(g, dict)}})
    return min(candidates, key=lambda e: e["size"]) if candidates else None


def judge_identification(policy: Policy, report: dict[str, Any], gallery_size: int,
                         threshold: float | None = None, *,
                         any_threshold: bool = False) -> Verdict:
    """Recompute the policy's identification rules and the report's own rules from the
    per-group counts, for a deployment whose gallery holds ``gallery_size`` subjects and
    searches at ``threshold`` (default: its shipped calibration's at ``fmr_target``;
    ``any_threshold``: as :func:`usable_problem`)."""
    problem = usable_problem(report, policy, threshold, any_threshold=any_threshold)
    if problem is not None:
        return Verdict(False, "audit-target-missing", problem, kind=IDENTIFICATION_MODE)
    point = operating_point(report, policy)
    assert point is not None
    entry = _size_entry(point, gallery_size)
    if entry is None:
        audited = point.get("gallery_size")
        return Verdict(False, "audit-gallery-too-small",
                       f"the identification audit measured galleries of at most {audited} "
                       f"subjects; this deployment's gallery holds {gallery_size}",
                       kind=IDENTIFICATION_MODE)
    fpir = {g: r[0] for g, e in entry["groups"].items() if (r := _rate(e))}
    fnir = {str(g.get("group")): r[0] for g in point.get("groups") or []
            if isinstance(g, dict) and (r := _rate(g.get("fnir")))}
    fpir_ratio = max_min_ratio(list(fpir.values()))
    fnir_ratio = max_min_ratio(list(fnir.values()))
    gate = policy.bias_gate

    judged: list = []

    def verdict(rule: str | None, detail: str) -> Verdict:
        return Verdict(rule is None, rule, detail, fpir_ratio=fpir_ratio, fnir_ratio=fnir_ratio,
                       gallery_size=entry["size"], kind=IDENTIFICATION_MODE,
                       judged=tuple(judged))

    missing = [g for g in gate.required_groups if g not in fpir or g not in fnir]
    if missing:
        return verdict("audit-groups-missing", f"required probe group(s) not covered at FMR "
                       f"{policy.fmr_target:g}: {', '.join(missing)}")
    at = f"at FMR {policy.fmr_target:g} and a gallery of {entry['size']:,} subjects"
    fnir_estimates = {str(g.get("group")): g.get("fnir") for g in point.get("groups") or []
                      if isinstance(g, dict)}
    for name, value, limit, rule, kind, estimates, names in (
        ("fpir_ratio", fpir_ratio, gate.max_fpir_ratio, "audit-fpir-ratio", "FPIR",
         entry["groups"], fpir),
        ("fnir_ratio", fnir_ratio, gate.max_fnir_ratio, "audit-fnir-ratio", "FNIR",
         fnir_estimates, fnir),
    ):
        if value is None:
            return verdict(rule, f"{name} could not be estimated from the per-group counts {at}")
        behind = [(f"{kind} of {g!r}", _with_value(estimates.get(g), names[g])) for g in names]
        judged.append(judge_ratio(name, value, behind, limit, gate.min_identities))
    where = f"{at} (recomputed from the per-group counts)"
    refusal = decide(judged, {"fpir_ratio": "audit-fpir-ratio", "fnir_ratio": "audit-fnir-ratio"},
                     policy, where)
    if refusal is not None:
        return verdict(*refusal)
    own = _own_rules_problem(report)
    if own is not None:
        return verdict("audit-gate-failed", own)
    return verdict(None, f"passes the identification gate {where}: "
                   + "; ".join(j.text() for j in judged))


def _with_value(estimate: Any, value: float) -> dict[str, Any] | None:
    """A reported estimate with its value recomputed from its counts (its interval and
    identities as reported)."""
    return {**estimate, "value": value} if isinstance(estimate, dict) else None


def _own_rules_problem(report: dict[str, Any]) -> str | None:
    """The report's own ``--fail-if`` rules, recomputed at the audited gallery size from the
    per-group counts (summaries over the groups with both rates, as the report states them)."""
    import numpy as np  # here, not at the top: `faceaudit policy` starts without numpy

    from faceaudit.audit import fairness

    gate = report.get("gate")
    rules = gate.get("rules") if isinstance(gate, dict) else None
    if rules is not None and not isinstance(rules, list):
        return "the audit's own gate rules are malformed"
    names = {ident: key for key, ident in fairness.IDENTIFICATION_NAMES.items()}
    alpha = report_alpha(report)
    for rule in rules or []:
        if not isinstance(rule, dict) or rule.get("op") not in OPERATORS \
                or not isinstance(rule.get("limit"), int | float):
            return "the audit's own gate rules are malformed"
        target = rule.get("target_fmr")
        point = next((p for p in _points(report) if isinstance(target, int | float)
                      and same_number(p.get("target_fmr"), float(target))), None)
        value = None
        if point is not None and rule.get("metric") in names:
            both = [(a[0], b[0]) for g in point.get("groups") or [] if isinstance(g, dict)
                    and (a := _rate(g.get("fpir"))) and (b := _rate(g.get("fnir")))]
            if len(both) >= 2:
                fp, fn = (np.array(x) for x in zip(*both, strict=True))
                with np.errstate(divide="ignore", invalid="ignore"):
                    value = float(fairness.summaries(fp, fn, None, alpha)[
                        names[rule["metric"]]])
                value = None if math.isnan(value) else value
        if value is None:
            return (f"the audit's own rule {rule.get('expression')!r} cannot be evaluated from "
                    "the per-group counts")
        if fails(rule["op"], value, rule["limit"]):
            return (f"the audit's own rule {rule.get('expression')!r} fails: recomputed "
                    f"{rule.get('metric')} {value:.3g}")
    return None


def current_gallery_size(home: Home, backend_id: str) -> int:
    """Subjects enrolled now with templates of ``backend_id`` (0 without a gallery), read
    from the gallery the home is configured with (its SQLite file or PostgreSQL)."""
    from faceaudit.gallery.store import open_gallery_store

    if not home.database_url_in_force() and not home.db_path.is_file():
        return 0
    return open_gallery_store(home).subject_count(backend_id)
