"""Registering a PAD audit report: under the PAD system it names, not a model.

The checks are a model audit's (:mod:`faceaudit.policy.registration`) less the model file: a
trusted auditor's signature over the bytes, a creation time neither in the future nor stale,
and a usable operating point with two or more groups (:func:`faceaudit.policy.pad.
usable_pad_problem`; a report without ``provenance.pad_system`` is refused there). A refusal
is logged (``refused``) and raised as :class:`AuditRefusal`; an accepted report is stored like
any other and logged as an ``audit`` event with ``mode = "pad"`` and its ``pad_system``, and
no ``backend_id``. The verdict returned and recorded is recomputed from the report's counts
(:func:`faceaudit.policy.pad.judge_pad`), never read from it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from faceaudit.base.home import Home
from faceaudit.ledger import Ledger
from faceaudit.policy.audit_age import check_created
from faceaudit.policy.audits import report_sha256, store_report
from faceaudit.policy.errors import AuditRefusal
from faceaudit.policy.model import load_policy
from faceaudit.policy.pad import PAD_MODE, judge_pad, pad_system, usable_pad_problem
from faceaudit.policy.report_trust import trusted_signer


def register_pad_report(home: Home, ledger: Ledger, data: bytes, report: dict[str, Any],
                        signature: bytes | None, actor: str, *, source: str = "report.json",
                        now: datetime | None = None) -> dict[str, Any]:
    """Check and register one parsed PAD ``report`` (its bytes ``data``); the result is
    :func:`faceaudit.policy.registration.register_audit_bytes`' with ``backend_id`` None and
    ``pad_system`` added."""
    prov = report["provenance"]
    system = pad_system(report)
    policy = load_policy(home)
    now = now or datetime.now(UTC)
    digest = report_sha256(data)
    try:
        key_id = trusted_signer(policy, data, signature)
        created = check_created(policy, prov, now, source)
        problem = usable_pad_problem(report, policy)
        if problem is not None:
            raise AuditRefusal("audit-target-missing", problem)
    except AuditRefusal as refusal:
        ledger.append(actor, "refused",
                      result={"rule": refusal.rule, "operation": refusal.operation,
                              "detail": refusal.detail[:1000], "report_sha256": digest,
                              "pad_system": system})
        raise
    assert system is not None  # usable_pad_problem refuses a report without one
    verdict = judge_pad(policy, report)
    path = store_report(home, data, signature)
    event = ledger.append(actor, "audit", result={
        "audit_id": digest[:16], "report_sha256": digest, "created_at": created.isoformat(),
        "model_sha256": None, "input_kind": "pad", "mode": PAD_MODE, "pad_system": system,
        "key_id": key_id, "gate_passed": verdict.passed, "gate_rule": verdict.rule,
    })
    return {"audit_id": digest[:16], "backend_id": None, "pad_system": system,
            "created_at": created.isoformat(), "report_sha256": digest, "key_id": key_id,
            "path": str(path), "gate": verdict.to_dict(), "seq": event["seq"]}
