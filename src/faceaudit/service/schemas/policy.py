"""Response of ``GET /v1/policy/status``."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from faceaudit.service.schemas.common import Open


class Signer(Open):
    """The key that signs the ledger's heads."""

    kind: str
    algorithm: str | None
    key_id: str | None
    insider_proof: bool
    description: str


class PolicyStatus(Open):
    """Whether identification is allowed now, by which audit, or why not."""

    allowed: bool
    waived: bool
    backend_id: str
    rule: str | None
    detail: str | None
    audit_id: str | None
    audit_seq: int | None
    audit_created_at: str | None
    identification_audit_id: str | None
    checked_at: str
    sentence: str = Field(description="The answer in one sentence.")
    signer: Signer
    pad: dict[str, Any] | None = Field(
        default=None, description="The PAD audit in force for verify (policy bias_gate."
        "pad_system): pad_system, required, allowed, rule, detail, audit_id, sentence; null "
        "when the policy names no PAD system.")
