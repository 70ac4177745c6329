"""Applying the policy: refuse-and-log before an operation; policy changes.

Audit registration lives in :mod:`faceaudit.policy.registration`.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from faceaudit.base.home import Home
from faceaudit.ledger import Ledger
from faceaudit.policy.authorisation import Authorisation, judge_authorisation
from faceaudit.policy.errors import PolicyError, PolicyRefusal
from faceaudit.policy.gate import GateResult, evaluate_gate
from faceaudit.policy.model import (
    GATED_OPERATIONS,
    OPERATIONS,
    Policy,
    load_policy,
    read_policy_file,
)
from faceaudit.policy.record import policy_digest


def enforce(
    policy: Policy,
    ledger: Ledger,
    home: Home,
    *,
    operation: str,
    actor: str,
    purpose: str | None,
    case: str | None,
    backend_id: str | None,
    now: datetime | None = None,
    authorisation: Authorisation | None = None,
    offence: str | None = None,
) -> GateResult | None:
    """Return if ``policy`` allows ``operation`` now — with the bias gate's verdict for
    identify/verify (passed, or waived, and by which audit), None for other operations;
    otherwise log a ``refused`` event and raise :class:`PolicyRefusal`.

    Rules, in order: the operation is allowed; its required fields (purpose, case) are given;
    its authorisation and offence satisfy the policy's ``[authorisation]`` table
    (:mod:`faceaudit.policy.authorisation`);
    the actor is under the operation's rate limit (its events in the ledger window); and for
    identify/verify, the backend has a passing registered audit within the allowed age.
    """
    if operation not in OPERATIONS:
        raise PolicyError(f"unknown operation {operation!r}")
    now = now or datetime.now(UTC)
    refusal, gate = _first_violation(policy, ledger, home, operation, actor, purpose, case,
                                     backend_id, now, authorisation, offence)
    if refusal is None:
        return gate
    rule, detail = refusal
    ledger.append(
        actor,
        "refused",
        purpose=purpose,
        case=case,
        backend_id=backend_id,
        result={"rule": rule, "operation": operation, "detail": detail,
                **({"authorisation": authorisation.to_record()} if authorisation else {}),
                **({"offence": offence} if offence else {})},
    )
    raise PolicyRefusal(rule, operation, detail)


def _first_violation(
    policy: Policy,
    ledger: Ledger,
    home: Home,
    operation: str,
    actor: str,
    purpose: str | None,
    case: str | None,
    backend_id: str | None,
    now: datetime,
    authorisation: Authorisation | None = None,
    offence: str | None = None,
) -> tuple[tuple[str, str] | None, GateResult | None]:
    """The first rule ``operation`` breaks as ``(rule, detail)`` (or None), and the gate's
    verdict when the gate was consulted."""
    if operation not in policy.allowed_operations:
        return ("operation-not-allowed", f"the policy does not allow {operation}"), None
    given = {"purpose": purpose, "case": case}
    for name in policy.required_fields.get(operation, ()):
        if not (given[name] or "").strip():
            return ("required-field", f"{operation} requires a {name}"), None
    verdict = judge_authorisation(policy.authorisation, operation, authorisation, offence, now)
    if verdict.rule is not None:
        return (verdict.rule, verdict.detail), None
    limit = policy.rate_limits.get(operation)
    if limit is not None:
        since = now - timedelta(hours=limit.window_hours)
        count = sum(
            1
            for e in ledger.recent(since)
            if e["action"] == operation and e["actor"] == actor
        )
        if count >= limit.max_events:
            return (
                "rate-limit",
                f"{actor} already ran {count} {operation} operations in the last "
                f"{limit.window_hours:g} h (limit {limit.max_events})",
            ), None
    if operation in GATED_OPERATIONS:
        gate = evaluate_gate(policy, home, backend_id, now, ledger, operation)
        if not gate.passed:
            assert gate.rule is not None
            return (gate.rule, gate.detail), gate
        return None, gate
    return None, None


def install_policy(home: Home, ledger: Ledger, policy_file: Path, actor: str) -> Policy:
    """Validate ``policy_file`` and install it as ``home.policy_path``, log first.

    The new file is staged (fsynced) beside the policy and archived under its SHA-256
    (``home.policy_archive_path``: every policy ever installed stays readable for the
    oversight report), the ``policy_change`` event (SHA-256 of the old and new files) is
    appended (with, for a policy adopting the worst-group threshold, the threshold it adopts:
    :func:`faceaudit.policy.adoption.adoption_record`), and only then does the staged file
    replace the policy. A ledger that refuses
    the event leaves the policy as it was; a crash after the event is finished by the next
    :func:`load_policy`. The policy in force is always the one the last ``policy_change``
    event records (see :mod:`faceaudit.policy.record`). Raises :class:`PolicyError` if invalid.
    """
    from faceaudit.policy.adoption import adoption_record
    from faceaudit.policy.record import recorded_policy, staged_policy_path

    new_policy, data = read_policy_file(policy_file)
    home.ensure()
    target = home.policy_path
    _, previous = recorded_policy(home)
    staged = staged_policy_path(home)
    archived = home.policy_archive_path(policy_digest(data))
    for path in (staged, archived):  # the archived copy: the evidence of what was in force
        if path == archived and path.exists():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    change: dict[str, Any] = {"sha256": policy_digest(data), "previous_sha256": previous}
    adoption = adoption_record(new_policy, home, ledger, datetime.now(UTC))
    if adoption is not None:  # the worst-group threshold it adopts, per audited backend
        change["threshold"] = adoption
    try:
        ledger.append(actor, "policy_change", result=change)
    except BaseException:
        staged.unlink(missing_ok=True)
        raise
    os.replace(staged, target)
    return load_policy(home)
