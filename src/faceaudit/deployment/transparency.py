"""The public transparency report of a deployment: the ledger's events counted per period,
small cells suppressed, laid out as a template asks (:mod:`faceaudit.ledger.transparency_counts`,
:mod:`faceaudit.ledger.transparency_report`, :mod:`faceaudit.ledger.transparency_templates`).

:func:`build_transparency` adds what only the deployment knows: the policy's ``k`` and offence
list, the headline ratios of the audits in force (recomputed from each stored report by the
bias gate's own rules) and the ledger's verification. ``faceaudit report transparency`` and
``GET /v1/reports/transparency`` both call it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from faceaudit import __version__
from faceaudit.base.errors import InvalidRequestError
from faceaudit.base.home import Home
from faceaudit.ledger import Ledger
from faceaudit.ledger.transparency_counts import (
    UNITS,
    audits_in_force,
    report_periods,
    tally_transparency,
)
from faceaudit.ledger.transparency_report import (
    FORMAT,
    SUPPRESSION_RULE,
    publish_tables,
    template_named,
)
from faceaudit.ledger.transparency_templates import TEMPLATES
from faceaudit.policy.audits import AuditRecordError, event_from_ledger, load_registered
from faceaudit.policy.errors import AuditReportError
from faceaudit.policy.identification import (
    IDENTIFICATION_MODE,
    current_gallery_size,
    judge_identification,
)
from faceaudit.policy.model import Policy, load_policy
from faceaudit.policy.pad import PAD_MODE, judge_pad
from faceaudit.policy.recompute import judge


class TransparencyRequestError(InvalidRequestError):
    """A transparency report asked for with a bad date, an empty period, an unknown period
    unit or an unknown template (CLI exit 2, HTTP 422)."""

    code = "transparency-request"


def parse_bound(text: str, name: str, *, end: bool = False) -> datetime:
    """A report bound: ``YYYY-MM-DD`` (UTC; as ``end``, that whole day is included: the
    bound is the next day's start, exclusive) or an ISO-8601 time;
    :class:`TransparencyRequestError` naming ``name`` otherwise."""
    try:
        when = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        raise TransparencyRequestError(f"{name} {text!r} is not YYYY-MM-DD or an ISO-8601 "
                                       "time", which=name) from None
    if len(text) == 10 and end:
        when += timedelta(days=1)  # the day's end: the next day's start, exclusive
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def check_choices(unit: str, template: str, *, unit_name: str = "period",
                  template_name: str = "template") -> None:
    """Refuse an unknown period unit or template (:class:`TransparencyRequestError` naming
    the option or field, ``unit_name`` / ``template_name``)."""
    if template not in TEMPLATES:
        raise TransparencyRequestError(f"unknown template {template!r}: one of "
                                       f"{', '.join(TEMPLATES)}", which=template_name)
    if unit not in UNITS:
        raise TransparencyRequestError(f"unknown period {unit!r}: one of {', '.join(UNITS)}",
                                       which=unit_name)


def build_transparency(home: Home, start: datetime, end: datetime, *, unit: str = "month",
                       template: str = "full") -> dict[str, Any]:
    """The transparency report of ``[start, end)`` per ``unit`` (month, quarter, year) laid
    out as ``template`` (JSON-ready). Raises :class:`TransparencyRequestError` for an empty
    period, an unknown unit or template."""
    check_choices(unit, template)
    try:
        periods = report_periods(start, end, unit)
    except ValueError as exc:
        raise TransparencyRequestError(str(exc), which="to") from None
    policy = load_policy(home)
    ledger = Ledger(home)
    tally = tally_transparency(ledger.events(None, periods[-1].end), periods,
                               policy.authorisation.offences)
    tables, suppressed = publish_tables(tally.tables(policy.transparency.k),
                                        policy.transparency.k)
    verified = ledger.verify()
    laid_out = template_named(template)
    return {
        "format": FORMAT,
        "template": laid_out.to_dict(),
        "period": {"from": periods[0].start.isoformat(), "to": periods[-1].end.isoformat(),
                   "unit": unit, "columns": [p.label for p in periods]},
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "suppression": {"k": policy.transparency.k, "rule": SUPPRESSION_RULE, **suppressed},
        "system": {"name": "faceaudit", "version": __version__,
                   "backends_used": sorted(tally.backends),
                   "database": {"name": "the deployment's consented gallery",
                                "description": "subjects enrolled with a recorded legal basis "
                                               "and consent evidence; templates only, images "
                                               "only where the enrolment kept them",
                                "templates_at_last_search": tally.templates_searched}},
        "tables": tables,
        "audits_in_force": [
            {"period": p.label, "at": p.end.isoformat(),
             "audits": [_headline(home, policy, a) for a in audits_in_force(tally.audits, p.end)]}
            for p in periods],
        "integrity": {"ledger_intact": verified.ok, "summary": verified.summary()},
    }


def _headline(home: Home, policy: Policy, audit: dict[str, Any]) -> dict[str, Any]:
    """An audit in force with its headline ratios (max/min of per-group error rates at the
    operating point) recomputed from its stored report under the policy in force now."""
    out = {key: audit[key] for key in ("audit_id", "backend_id", "mode", "created_at",
                                       "registered_at", "gate_passed_when_registered")}
    registered = event_from_ledger({"seq": audit["seq"], "time": audit["registered_at"],
                                    "actor": "", "backend_id": audit["backend_id"],
                                    "result": {"audit_id": audit["audit_id"],
                                               "report_sha256": audit["report_sha256"],
                                               "created_at": audit["created_at"],
                                               "mode": audit["mode"]}})
    if registered is None:
        return {**out, "ratios": None, "note": "the audit event records no report hash"}
    try:
        record = load_registered(home, registered)
        if audit["mode"] == PAD_MODE:  # a vendor's PAD, for verify (policy/pad.py)
            verdict = judge_pad(policy, record.report)
        elif audit["mode"] == IDENTIFICATION_MODE:
            verdict = judge_identification(policy, record.report,
                                           current_gallery_size(home, audit["backend_id"]))
        else:
            verdict = judge(policy, record.report)
    except (AuditRecordError, AuditReportError) as exc:
        return {**out, "ratios": None, "note": str(exc)}
    recomputed = verdict.to_dict()["recomputed"]
    return {**out, "passes_policy_now": verdict.passed,
            "ratios": {k: v for k, v in recomputed.items() if k.endswith("_ratio")},
            "note": None}
