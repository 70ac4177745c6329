"""When an audit report counts by its date: not in the future (beyond a clock skew), not older
than the policy's ``bias_gate.max_audit_age_days``."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from faceaudit.policy.audits import parse_time
from faceaudit.policy.errors import AuditRefusal
from faceaudit.policy.model import Policy

CLOCK_SKEW = timedelta(minutes=5)


def check_created(policy: Policy, prov: dict[str, Any], now: datetime, source: str) -> datetime:
    """The report's ``provenance.created_at``; :class:`AuditRefusal` (``audit-future``,
    ``audit-stale``) when it is in the future or older than the policy allows."""
    created = parse_time(prov.get("created_at"), source)
    if created > now + CLOCK_SKEW:
        raise AuditRefusal("audit-future",
                           f"the report is dated {created.isoformat()}, in the future")
    max_age = policy.bias_gate.max_audit_age_days
    if now - created > timedelta(days=max_age):
        raise AuditRefusal("audit-stale",
                           f"the report is {(now - created).days} days old; the policy allows "
                           f"{max_age:g}")
    return created
