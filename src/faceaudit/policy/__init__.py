"""Deployment policy: allowed operations, required fields, rate limits and the bias gate."""

from faceaudit.policy.audits import AuditRecord, list_audits, registered_audits
from faceaudit.policy.enforce import enforce, install_policy
from faceaudit.policy.errors import AuditRefusal, AuditReportError, PolicyError, PolicyRefusal
from faceaudit.policy.gate import GateResult, evaluate_gate
from faceaudit.policy.model import (
    DEFAULT_POLICY,
    OPERATIONS,
    BiasGate,
    Policy,
    RateLimit,
    load_policy,
    parse_policy,
)
from faceaudit.policy.registration import register_audit, register_audit_bytes
from faceaudit.policy.status import policy_status

__all__ = [
    "DEFAULT_POLICY",
    "OPERATIONS",
    "AuditRecord",
    "AuditRefusal",
    "AuditReportError",
    "BiasGate",
    "GateResult",
    "Policy",
    "PolicyError",
    "PolicyRefusal",
    "RateLimit",
    "enforce",
    "evaluate_gate",
    "install_policy",
    "list_audits",
    "load_policy",
    "parse_policy",
    "policy_status",
    "register_audit",
    "register_audit_bytes",
    "registered_audits",
]
