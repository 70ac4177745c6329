"""Errors raised by the deployment policy."""

from __future__ import annotations

from faceaudit.base.errors import FaceAuditError


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
    exit_code = 5

    def __init__(self, rule: str, operation: str, detail: str) -> None:
        super().__init__(f"{operation} refused by policy ({rule}): {detail}")
        self.rule = rule
        self.operation = operation
        self.detail = detail

    def with_hint(self, hint: str) -> PolicyRefusal:
        """The same refusal, its detail ending with ``hint`` — how *this* surface overrides
        it (``--allow-duplicate`` in the CLI, ``allow_duplicate`` in REST); the ledger keeps
        the detail as logged."""
        return PolicyRefusal(self.rule, self.operation, f"{self.detail}; {hint}")


class ReviewRefusal(PolicyRefusal):
    """A reviewer's decision on a review task is refused (``rule``: ``self-review``,
    ``same-reviewer``, ``review-complete``, ``no-candidates``, ``not-a-candidate``); the
    refusal is logged and nothing is recorded."""

    code = "review-refused"

    def __init__(self, rule: str, detail: str) -> None:
        super().__init__(rule, "review", detail)


class LeadRefusal(PolicyRefusal):
    """Recording an action or an outcome on a lead is refused (``rule``:
    ``lead-not-confirmed``, ``no-evidence``, ``lead-not-actioned``, ``no-candidates``,
    ``not-a-candidate``); the refusal is logged and nothing is recorded."""

    code = "lead-refused"

    def __init__(self, rule: str, detail: str) -> None:
        super().__init__(rule, "lead", detail)


class AuditReportError(FaceAuditError):
    """A file given as an audit ``report.json`` is not a usable faceaudit.audit/1 report."""

    code = "audit-report-invalid"
    http_status = 422


class AuditRefusal(PolicyRefusal):
    """An audit report was refused registration (unsigned, untrusted key, altered, dated in
    the future or stale, about another model, no usable target); the refusal is logged.

    The CLI exits 5; the service answers 422 with ``rule`` in the problem document.
    """

    code = "audit-refused"
    http_status = 422

    def __init__(self, rule: str, detail: str) -> None:
        super().__init__(rule, "register-audit", detail)
