"""The ledger event's schema, written once: the actions an event may record, the fields a
caller gives it (:class:`EventOptions` after ``actor`` and ``action``), the keys a stored event
has, and the check every field passes before it is appended (:func:`check_fields`).

:meth:`~faceaudit.ledger.store.Ledger.append` takes the fields as arguments; a deployment's
log-first operations (:mod:`faceaudit.deployment.oplog`) build them with :func:`event`, check
them before touching anything and keep them in the gallery's pending store until appended.
"""

from __future__ import annotations

from typing import Any, TypedDict, Unpack

from faceaudit.ledger.errors import LedgerEventError
from faceaudit.ledger.payload import check_number, check_result, check_text

ACTIONS = frozenset(
    {
        "enrol",
        "verify",
        "identify",
        "review",
        "lead",  # what was done with a confirmed lead, and its outcome (deployment/reviews.py)
        "erase",
        "purge",
        "audit",
        "policy_change",
        "refused",
        "checkpoint",
        "consent",
        "authorisation",
        "outputs_deleted",
        "init",
        "intent",
        "aborted",
        "key_create",
        "key_revoke",
        "subject_export",  # an access request's export (deployment/subject_export.py)
        "case_export",  # a case's disclosure bundle (deployment/case_bundle.py)
        "redact",  # faceaudit redact in a deployment (footage_keep.py)
        "ledger_recovery",  # ledger restore-heads / ledger sth --upgrade (ledger/store.py)
    }
)


class EventOptions(TypedDict, total=False):
    """The optional fields of an event (None when not given), in the order an event holds
    them after ``actor`` and ``action``."""

    purpose: str | None
    case: str | None
    legal_basis: str | None
    backend_id: str | None
    threshold: float | None
    result: dict[str, Any] | None


#: the optional fields of an event, as :class:`EventOptions` declares them
OPTIONAL_FIELDS: tuple[str, ...] = tuple(EventOptions.__annotations__)
#: the fields a caller gives an event
FIELDS: tuple[str, ...] = ("actor", "action", *OPTIONAL_FIELDS)
#: every key of a stored event: its place in the chain around the caller's fields
EVENT_KEYS: tuple[str, ...] = ("seq", "time", *FIELDS, "prev_hash", "hash")
#: the optional fields that hold short text
TEXT_FIELDS = ("purpose", "case", "legal_basis", "backend_id")


def event(actor: str, action: str, **options: Unpack[EventOptions]) -> dict[str, Any]:
    """The fields of one event, every one of :data:`FIELDS` present (None when not given);
    unchecked (:func:`check_fields` checks them)."""
    unknown = sorted(set(options) - set(OPTIONAL_FIELDS))
    if unknown:
        raise TypeError(f"not a field of a ledger event: {', '.join(unknown)}")
    given: dict[str, Any] = dict(options)
    return {"actor": actor, "action": action,
            **{name: given.get(name) for name in OPTIONAL_FIELDS}}


def check_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """``fields`` (as :func:`event` builds them) as the ledger stores them: a known action, a
    non-empty actor, short texts, a finite threshold and a result of counts and ids.

    Raises :class:`~faceaudit.ledger.errors.LedgerEventError` for the first field that fails.
    """
    action = fields["action"]
    if action not in ACTIONS:
        raise LedgerEventError(f"unknown ledger action {action!r}")
    checked: dict[str, Any] = {"actor": check_text("actor", fields["actor"], required=True),
                               "action": action}
    checked.update({name: check_text(name, fields[name]) for name in TEXT_FIELDS})
    checked["threshold"] = check_number("threshold", fields["threshold"])
    checked["result"] = check_result(fields["result"])
    return checked
