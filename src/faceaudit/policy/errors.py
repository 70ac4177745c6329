"""Errors raised by the deployment policy."""

from __future__ import annotations

from faceaudit.errors import FaceAuditError


class PolicyError(FaceAuditError):
    """A policy file is invalid: unreadable TOML, unknown keys, wrong types or values."""

    code = "policy-invalid"
    http_status = 422


class PolicyRefusal(FaceAuditError):
    """The policy refuses an operation; the refusal has already been logged in the ledger.

    ``rule`` names the rule that refused (e.g. ``"rate-limit"``, ``"stale-audit"``).
    """

    code = "policy-refused"
    http_status = 403

    def __init__(self, rule: str, operation: str, detail: str) -> None:
        super().__init__(f"{operation} refused by policy ({rule}): {detail}")
        self.rule = rule
        self.operation = operation
        self.detail = detail


class AuditReportError(FaceAuditError):
    """A file given as an audit ``report.json`` is not a usable faceaudit.audit/1 report."""

    code = "audit-report-invalid"
    http_status = 422
