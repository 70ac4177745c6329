"""``verify`` and the PAD audit: is there a fresh, passing, signed PAD audit of the policy's
PAD system, now?

When the policy names a PAD system (``bias_gate.pad_system``) the newest registered PAD audit
of it (newest ``created_at``, ties: the later registration) governs, as for the other audits:
a newer failing one revokes at once. With ``bias_gate.require_pad_audit`` there must be one,
not stale; without it a registered one must pass when it is not stale. Each use re-proves the
stored copy against its ledger event and the auditor's signature under the policy in force,
and recomputes the verdict from the report's counts (:func:`faceaudit.policy.pad.judge_pad`).
``identify`` is never judged here.

Rules: ``pad-audit-missing`` (none registered for the system, or the newest is stale or dated
in the future), ``pad-audit-untrusted`` (its stored copy or signature no longer holds),
``pad-audit-failed`` (a ratio fails over its whole interval, a required group is missing, or
the audit has no usable operating point), ``pad-audit-inconclusive`` and
``pad-audit-insufficient`` (unless the policy's ``on_inconclusive`` / ``on_insufficient``
allows them: the verdict then passes).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from faceaudit.base.home import Home
from faceaudit.ledger import Ledger, LedgerError
from faceaudit.policy.audit_age import CLOCK_SKEW
from faceaudit.policy.audits import (
    AuditRecordError,
    load_registered,
    registered_pad_audits,
    stored_signature,
)
from faceaudit.policy.errors import AuditRefusal, AuditReportError
from faceaudit.policy.model import Policy
from faceaudit.policy.pad import judge_pad
from faceaudit.policy.report_trust import trusted_signer

#: the PAD verdict's rule for each rule the recomputation refuses with
_RULES = {"audit-inconclusive": "pad-audit-inconclusive",
          "audit-insufficient": "pad-audit-insufficient"}


@dataclass(frozen=True)
class PadGate:
    """The PAD audit's verdict for ``verify``: ``rule`` None when it allows (or when the
    policy names no PAD system: ``audit_id`` None then)."""

    rule: str | None
    detail: str
    audit_id: str | None = None


def judge_pad_gate(policy: Policy, home: Home, ledger: Ledger, now: datetime) -> PadGate:
    """The PAD verdict for ``verify`` under ``policy`` at ``now`` (module docstring)."""
    gate = policy.bias_gate
    system, required = gate.pad_system, gate.require_pad_audit
    if not system:
        return PadGate(None, "the policy names no PAD system")
    try:
        events = registered_pad_audits(ledger, system)
    except LedgerError as exc:
        return PadGate("pad-audit-untrusted", str(exc))
    if not events:
        return PadGate("pad-audit-missing" if required else None,
                       f"no PAD audit of {system} is registered"
                       + (", and the policy requires one for verify" if required else ""))
    event = events[0]
    label = f"PAD audit {event.audit_id} of {system}"
    age = now - event.created_at
    if event.created_at > now + CLOCK_SKEW or age > timedelta(days=gate.max_audit_age_days):
        why = ("is dated in the future" if age < timedelta(0) else
               f"is {age.days} days old; the policy allows {gate.max_audit_age_days:g}")
        return PadGate("pad-audit-missing" if required else None,
                       f"the newest {label} {why}")
    try:
        record = load_registered(home, event)
        trusted_signer(policy, record.data, stored_signature(record.path))
    except (AuditRecordError, AuditReportError) as exc:
        return PadGate("pad-audit-untrusted", f"the newest {label}: {exc}", event.audit_id)
    except AuditRefusal as refusal:
        return PadGate("pad-audit-untrusted",
                       f"the newest {label} ({refusal.rule}): {refusal.detail}", event.audit_id)
    verdict = judge_pad(policy, record.report)
    if verdict.passed:
        return PadGate(None, f"{label} {verdict.detail}", event.audit_id)
    rule = _RULES.get(str(verdict.rule), "pad-audit-failed")
    return PadGate(rule, f"the newest {label} ({verdict.rule}): {verdict.detail}",
                   event.audit_id)
