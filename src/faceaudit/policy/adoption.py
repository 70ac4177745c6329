"""What a ``policy_change`` event records of a policy adopting the worst-group threshold
(``threshold = "worst-group"``): the threshold each audited backend would run at under it,
from the registered audit the gate finds in force then (or the rule that refuses)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from faceaudit.base.home import Home
from faceaudit.ledger import Ledger, LedgerError
from faceaudit.policy.audits import registered_audits
from faceaudit.policy.gate import evaluate_gate
from faceaudit.policy.model import Policy
from faceaudit.policy.worst_group import WORST_GROUP, adopts_worst_group


def adoption_record(policy: Policy, home: Home, ledger: Ledger, now: datetime
                    ) -> dict[str, Any] | None:
    """``{"rule": "worst-group", "fmr_target", "adopted": {backend: {"value", "audit_id",
    "refused"}}}`` for a policy adopting the worst-group threshold (``value`` None and
    ``refused`` the gate's rule where no threshold can be adopted yet); None otherwise."""
    if not adopts_worst_group(policy):
        return None
    try:
        backends = sorted({e.backend_id for e in registered_audits(ledger)})
    except LedgerError:
        backends = []
    adopted: dict[str, Any] = {}
    for backend in backends[:32]:
        gate = evaluate_gate(policy, home, backend, now, ledger, "verify")
        adopted[backend] = {"value": gate.threshold,
                            "audit_id": gate.audit_id if gate.threshold is not None else None,
                            "refused": None if gate.passed else gate.rule}
    return {"rule": WORST_GROUP, "fmr_target": policy.fmr_target, "adopted": adopted}
