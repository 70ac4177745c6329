"""Deployment policy: allowed operations, required fields, rate limits and the bias gate."""

from faceaudit.policy.audits import AuditRecord, list_audits
from faceaudit.policy.enforce import enforce, install_policy, register_audit
from faceaudit.policy.errors import AuditReportError, PolicyError, PolicyRefusal
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

__all__ = [
    "DEFAULT_POLICY",
    "OPERATIONS",
    "AuditRecord",
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
    "register_audit",
]
