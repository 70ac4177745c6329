"""The bias gate: does the newest registered audit of the deployed backend pass, now?

The latest evidence governs: of the audits registered in the ledger for a backend and audit
mode (``exhaustive`` or ``pair-list``), the one with the newest ``created_at`` (ties: the later
registration) decides for that mode, so a newer failing, expired or untrusted audit revokes
permission at once. Across modes, any mode whose newest audit fails (other than by age)
refuses — a passing audit of another mode cannot bury it; otherwise the newest passing one
allows; when every mode's newest audit has expired, the gate refuses as stale.

Identification audits (mode ``identification``, 1:N) speak for ``identify`` only, on top of the
1:1 modes: the newest must pass (judged at the deployment's threshold and current gallery
size, :mod:`faceaudit.policy.identification`), and when the policy sets
``bias_gate.require_identification_audit`` there must be one that is not stale.

``verify`` (the authentication path) has, on top of the 1:1 modes, the PAD audit of the
policy's ``bias_gate.pad_system`` (:mod:`faceaudit.policy.pad_gate`): refused with
``pad-audit-missing``, ``-untrusted``, ``-failed``, ``-inconclusive`` or ``-insufficient``
when it does not allow; ``identify`` never reads PAD audits.

A policy that adopts the worst-group threshold (``threshold = "worst-group"``,
:mod:`faceaudit.policy.worst_group`) has each 1:1 audit judged at the threshold it recommends
at ``fmr_target``; the governing audit's is the threshold the operation runs at
(:attr:`GateResult.threshold`), an identification audit counts only when measured at it, and
without one the gate refuses (``worst-group-threshold-missing``) — waiver or not.

Audits are read only through their ``audit`` events (a file merely present in ``audits/``
counts for nothing) and their stored copies must hash to the value recorded there. The
verdict is recomputed from the report's per-group numbers
(:func:`faceaudit.policy.recompute.judge`) for every operation.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from faceaudit.base.home import Home
from faceaudit.engine.models.identity import hash_matches_backend
from faceaudit.ledger import Ledger, LedgerError
from faceaudit.policy.audit_age import CLOCK_SKEW
from faceaudit.policy.audits import (
    AuditEvent,
    AuditRecordError,
    load_registered,
    registered_audits,
    stored_signature,
)
from faceaudit.policy.errors import AuditRefusal, AuditReportError
from faceaudit.policy.identification import (
    IDENTIFICATION_MODE,
    current_gallery_size,
    judge_identification,
)
from faceaudit.policy.model import Policy
from faceaudit.policy.pad_gate import judge_pad_gate
from faceaudit.policy.report_trust import trusted_signer
from faceaudit.policy.worst_group import MISSING_RULE, adopts_worst_group, judge_for_policy


@dataclass(frozen=True)
class GateResult:
    """Outcome of the gate: ``passed``, else the ``rule`` that failed and why.

    ``audit_id`` is the governing audit (the newest registered one), None when there is none;
    ``seq`` its ledger event and ``created_at`` its creation time.
    """

    passed: bool
    rule: str | None
    detail: str
    audit_id: str | None
    seq: int | None = None
    created_at: datetime | None = None
    waived: bool = False
    identification_audit_id: str | None = None
    identification_detail: str | None = None
    waived_rule: str | None = None  # the rule a waiver lifted
    # the governing audit's worst-group threshold (policy ``threshold = "worst-group"``)
    threshold: float | None = None
    # verify: the PAD audit relied on (policy bias_gate.pad_system: faceaudit.policy.pad_gate)
    pad_audit_id: str | None = None
    pad_detail: str | None = None


def gate_record(gate: GateResult) -> dict[str, Any]:
    """What the event of an operation the gate let through records of it: ``verdict``
    (``passed`` or ``waived``), the rule a waiver lifted, the audits relied on, and — under
    a policy adopting the worst-group threshold — ``threshold`` (rule, value, audit)."""
    record: dict[str, Any] = {
        "verdict": "waived" if gate.waived else "passed", "waived_rule": gate.waived_rule,
        "audit_id": gate.audit_id, "audit_seq": gate.seq,
        "identification_audit_id": gate.identification_audit_id}
    if gate.threshold is not None:  # the worst-group threshold adopted, and from which audit
        record["threshold"] = {"rule": "worst-group", "value": gate.threshold,
                               "audit_id": gate.audit_id}
    if gate.pad_audit_id is not None:  # verify under a policy naming a PAD system
        record["pad_audit_id"] = gate.pad_audit_id
    return record


def evaluate_gate(
    policy: Policy,
    home: Home,
    backend_id: str | None,
    now: datetime,
    ledger: Ledger | None = None,
    operation: str = "identify",
) -> GateResult:
    """Judge the newest registered audit of each mode of ``backend_id`` against ``policy`` at
    ``now`` for ``operation`` (see the module docstring for how modes combine).

    A policy that waives the gate (``bias_gate.waived_because``) lets a failing verdict pass,
    with ``waived`` set and the verdict it overrode kept in ``detail`` — but never a ledger
    that fails to verify against its newest signed head (rule ``ledger-unverified``).
    """
    ledger = ledger or Ledger(home)
    try:
        # authority (an audit registration, a policy change, a waiver) counts only when a
        # verified signed tree head covers it: a forged or unsigned tail refuses, unwaivably
        ledger.check()
    except LedgerError as exc:
        return GateResult(False, "ledger-unverified",
                          f"the ledger does not verify against its newest signed tree head, so "
                          f"no audit or policy in it can be relied on: {exc}", None)
    verdict = _evaluate(policy, home, backend_id, now, ledger, operation)
    if adopts_worst_group(policy) and verdict.threshold is None:
        # a waiver lifts a verdict; it cannot supply the threshold the policy adopts
        detail = verdict.detail if verdict.rule == MISSING_RULE else (
            f"the policy adopts the worst-group threshold and no registered audit gives one "
            f"({verdict.rule}): {verdict.detail}")
        return replace(verdict, passed=False, rule=MISSING_RULE, detail=detail)
    reason = policy.bias_gate.waived_because
    if verdict.passed or not reason:
        return verdict
    return replace(
        verdict, passed=True, rule=None, waived=True, waived_rule=verdict.rule,
        detail=f"the policy waives the bias gate ({reason}); without the waiver it would "
               f"refuse ({verdict.rule}): {verdict.detail}",
    )


def _evaluate(
    policy: Policy,
    home: Home,
    backend_id: str | None,
    now: datetime,
    ledger: Ledger | None,
    operation: str,
) -> GateResult:
    if backend_id is None:
        return GateResult(False, "no-audit", "no backend named, so no audit can apply", None)
    try:
        events = registered_audits(ledger or Ledger(home), backend_id)
    except LedgerError as exc:
        return GateResult(False, "audit-record-unreadable", str(exc), None)
    if not events:
        return GateResult(False, "no-audit", f"no registered audit of {backend_id}", None)
    newest: dict[str, AuditEvent] = {}
    for event in events:  # newest evidence first
        newest.setdefault(event.mode, event)
    identification = newest.pop(IDENTIFICATION_MODE, None)
    if not newest:
        return GateResult(False, "no-audit", f"no registered 1:1 (verification) audit of "
                          f"{backend_id}: an identification audit alone does not cover it", None)
    results = [judge_registered(policy, home, event, now) for event in newest.values()]
    failing = [r for r in results if not r.passed and r.rule != "stale-audit"]
    passing = [r for r in results if r.passed]
    verdict = (failing or passing or results)[0]
    if operation == "verify" and verdict.passed:
        return _with_pad(policy, home, now, verdict, ledger or Ledger(home))
    if operation != "identify" or not verdict.passed:
        return verdict
    return _with_identification(policy, home, backend_id, now, verdict, identification)


def _with_pad(policy: Policy, home: Home, now: datetime, verdict: GateResult,
              ledger: Ledger) -> GateResult:
    """For verify: the PAD audit the policy names must allow too
    (:func:`faceaudit.policy.pad_gate.judge_pad_gate`)."""
    pad = judge_pad_gate(policy, home, ledger, now)
    if pad.rule is not None:
        return replace(verdict, passed=False, rule=pad.rule, detail=pad.detail,
                       pad_audit_id=pad.audit_id, pad_detail=pad.detail)
    return replace(verdict, pad_audit_id=pad.audit_id,
                   pad_detail=pad.detail if pad.audit_id else None)


def _with_identification(policy: Policy, home: Home, backend_id: str, now: datetime,
                         verdict: GateResult, event: AuditEvent | None) -> GateResult:
    """For identify: the newest identification audit must pass too when there is one (a
    newer failing one revokes) or when the policy requires one."""
    required = policy.bias_gate.require_identification_audit
    if event is None:
        if required:
            return GateResult(False, "no-identification-audit",
                              f"the policy requires an identification audit of {backend_id} "
                              "and none is registered", None)
        return verdict
    result = judge_registered(policy, home, event, now, verdict.threshold)
    if not result.passed:
        return verdict if result.rule == "stale-audit" and not required else \
            replace(result, threshold=verdict.threshold)
    return replace(verdict, identification_audit_id=result.audit_id,
                   identification_detail=result.detail)


def judge_registered(policy: Policy, home: Home, event: AuditEvent, now: datetime,
                     threshold: float | None = None) -> GateResult:
    """Judge one registered audit: its age, its signer under the current policy, its model
    file, its stored copy against the ledger, and its recomputed per-group numbers (a 1:1
    audit at the threshold the policy adopts; an identification audit at ``threshold``, the
    governing 1:1 audit's worst-group threshold when the policy adopts it)."""
    adopted: float | None = None

    def result(rule: str | None, detail: str) -> GateResult:
        return GateResult(rule is None, rule, detail, event.audit_id, event.seq,
                          event.created_at, threshold=adopted)

    gate = policy.bias_gate
    label = f"audit {event.audit_id} of {event.backend_id}"
    if event.created_at > now + CLOCK_SKEW:
        return result("audit-future", f"{label} is dated in the future")
    age = now - event.created_at
    if age > timedelta(days=gate.max_audit_age_days):
        return result("stale-audit",
                      f"the newest {label} is {age.days} days old; the policy allows "
                      f"{gate.max_audit_age_days:g}")
    try:
        record = load_registered(home, event)
        signature = stored_signature(record.path)
    except (AuditRecordError, AuditReportError) as exc:
        return result("audit-record-mismatch", str(exc))
    try:  # the authority is the auditor's signature over the stored bytes, re-proved each use
        trusted_signer(policy, record.data, signature)
    except AuditRefusal as refusal:
        return result(refusal.rule, f"the newest {label}: {refusal.detail}")
    if event.model_sha256 is None or not hash_matches_backend(event.backend_id,
                                                              event.model_sha256):
        return result("audit-model-mismatch",
                      f"the newest {label} measured a model file other than the one deployed")
    if event.mode == IDENTIFICATION_MODE:
        verdict = judge_identification(policy, record.report,
                                       current_gallery_size(home, event.backend_id),
                                       threshold if adopts_worst_group(policy) else None)
        if verdict.passed:
            return result(None, f"identification {label} {verdict.detail}")
    else:
        verdict = judge_for_policy(policy, record.report)
        adopted = verdict.threshold
    if verdict.passed:
        numbers = "; ".join(j.text() for j in verdict.judged)
        if adopted is not None:
            numbers = (f"at the worst-group threshold {adopted:.6g} (target FMR "
                       f"{policy.fmr_target:g}), {numbers}")
        return result(None, f"{label} passes" + (f": {numbers}" if numbers else ""))
    assert verdict.rule is not None
    return result(verdict.rule, f"the newest {label}: {verdict.detail}")
