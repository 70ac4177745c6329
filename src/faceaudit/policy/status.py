"""``policy status``: one sentence saying whether identification is allowed now, and why."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from faceaudit.base.home import Home
from faceaudit.ledger import Ledger
from faceaudit.ledger.signer import signer_summary
from faceaudit.policy.gate import evaluate_gate
from faceaudit.policy.model import Policy, load_policy


def policy_status(
    home: Home,
    backend_id: str,
    *,
    policy: Policy | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Whether identification with ``backend_id`` is allowed now, by which audit, or why not.

    Returns ``{"allowed", "waived", "backend_id", "rule", "detail", "audit_id", "audit_seq",
    "audit_created_at", "identification_audit_id", "checked_at", "sentence", "signer", "pad"}``
    (``identification_audit_id``: the 1:N audit that allows identification too, if any;
    ``pad``: the PAD audit in force for verify, :func:`pad_status`).
    ``allowed`` covers the bias gate and whether the policy allows identify at all;
    per-request rules (purpose, case, rate limit) are checked when a request is made.
    """
    policy = policy or load_policy(home)
    now = now or datetime.now(UTC)
    gate = evaluate_gate(policy, home, backend_id, now, Ledger(home))
    rule, detail = gate.rule, gate.detail
    if "identify" not in policy.allowed_operations:
        rule, detail = "operation-not-allowed", "the policy does not allow identify"
    allowed = rule is None
    created = gate.created_at.isoformat(timespec="seconds") if gate.created_at else None
    if allowed and gate.waived:
        sentence = (f"Identification with {backend_id} is allowed now WITHOUT a passing audit: "
                    f"{gate.detail}.")
    elif allowed:
        numbers = gate.detail.partition(" passes: ")[2]
        sentence = (f"Identification with {backend_id} is allowed now: audit {gate.audit_id} "
                    f"(created {created}, ledger event {gate.seq}) passes the bias gate"
                    + (f": {numbers}." if numbers else "."))
        if gate.identification_audit_id:
            sentence += f" The 1:N {gate.identification_detail}."
        else:
            sentence += " No identification (1:N) audit is registered."
    else:
        sentence = f"Identification with {backend_id} is refused now ({rule}): {detail}."
    pad = pad_status(policy, home, now)
    signer = signer_summary(home)
    return {
        "allowed": allowed,
        "waived": allowed and gate.waived,
        "backend_id": backend_id,
        "rule": rule,
        "detail": detail,
        "audit_id": gate.audit_id,
        "audit_seq": gate.seq,
        "audit_created_at": created,
        "identification_audit_id": gate.identification_audit_id,
        "checked_at": now.isoformat(timespec="seconds"),
        "sentence": sentence,
        "signer": signer,
        "pad": pad,
    }


def pad_status(policy: Policy, home: Home, now: datetime) -> dict[str, Any] | None:
    """The PAD audit in force for ``verify`` (policy ``bias_gate.pad_system``), or None when
    the policy names no PAD system: ``{"pad_system", "required", "allowed", "rule", "detail",
    "audit_id", "sentence"}``."""
    from faceaudit.policy.pad_gate import judge_pad_gate

    system = policy.bias_gate.pad_system
    if not system:
        return None
    pad = judge_pad_gate(policy, home, Ledger(home), now)
    required = policy.bias_gate.require_pad_audit
    if pad.rule is not None:
        sentence = f"Verification is refused by its PAD audit of {system} ({pad.rule}): " \
                   f"{pad.detail}."
    elif pad.audit_id is not None:
        sentence = f"For verification, the {pad.detail}."
    else:
        sentence = f"No PAD audit of {system} is in force ({pad.detail}); the policy does " \
                   "not require one."
    return {"pad_system": system, "required": required, "allowed": pad.rule is None,
            "rule": pad.rule, "detail": pad.detail, "audit_id": pad.audit_id,
            "sentence": sentence}
