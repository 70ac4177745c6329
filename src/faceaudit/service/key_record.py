"""Who may do what, as the ledger records it: the API keys derived from ``key_create``,
``key_revoke`` and their ``aborted`` events — only those a verified signed tree head covers.

The key store (``keys.db``) holds the token hashes; the record holds, for each key, its role,
its actor, whether it is revoked, and a commitment to its token hash
(:func:`token_commitment`). Authentication reads the role and the revocation from the record
and refuses a store row that disagrees with it, so whoever can write ``keys.db`` but not sign
the ledger cannot mint a key, promote one or undo a revocation (docs/api.md, "API keys").
The record is read once and then incrementally per request (the events appended since).
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, replace
from typing import Any

from faceaudit.ledger import Ledger

COMMITMENT_PREFIX = "faceaudit-api-key:"


def token_commitment(token_sha256: str) -> str:
    """What a ``key_create`` event records of a key's token: a hash of the stored token hash
    (so the ledger, which overseers receive, never carries what the key store carries)."""
    return hashlib.sha256((COMMITMENT_PREFIX + token_sha256).encode("ascii")).hexdigest()


@dataclass(frozen=True)
class RecordedKey:
    """One key as the ledger says it is."""

    key_id: str
    role: str
    actor: str
    commitment: str | None  # None for a key created before keys were bound to the record
    revoked_at: str | None  # the time of the key_revoke event
    created_seq: int

    @property
    def revoked(self) -> bool:
        """Whether the record holds a revocation of this key."""
        return self.revoked_at is not None


class KeyRecord:
    """The keys of one deployment as its ledger records them, kept up to date incrementally."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self._seen = 0
        self._keys: dict[str, RecordedKey] = {}
        self._lock = threading.Lock()

    def current(self) -> dict[str, RecordedKey]:
        """Every key the record knows, by key id, after verifying the ledger against its newest
        signed head (:meth:`Ledger.check`: a tampered ledger raises)."""
        with self._lock:
            size = self.ledger.check()
            if size < self._seen:  # a shorter ledger that verifies: start again from the record
                self._seen, self._keys = 0, {}
            for event in self.ledger.events_after(self._seen, size):
                self._apply(event)
            self._seen = max(self._seen, size)
            return dict(self._keys)

    def _apply(self, event: dict[str, Any]) -> None:
        action, result = event["action"], event.get("result")
        if not isinstance(result, dict) or not isinstance(result.get("key_id"), str):
            return
        key_id = result["key_id"]
        if action == "key_create":
            commitment = result.get("token_commitment")
            self._keys[key_id] = RecordedKey(
                key_id, str(result.get("role")), str(result.get("key_actor")),
                commitment if isinstance(commitment, str) else None, None, event["seq"])
        elif action == "key_revoke" and key_id in self._keys:
            self._keys[key_id] = replace(self._keys[key_id], revoked_at=str(event["time"]))
        elif action == "aborted" and key_id in self._keys:
            if result.get("operation") == "key_create":
                del self._keys[key_id]  # the store never got the key
            elif result.get("operation") == "key_revoke":
                self._keys[key_id] = replace(self._keys[key_id], revoked_at=None)


def row_problem(row: tuple[str, str, str, str, str | None, str], recorded: RecordedKey | None
                ) -> str | None:
    """Why a ``keys.db`` row ``(key_id, role, actor, created_at, revoked_at, token_sha256)``
    disagrees with the record in a way that grants authority, or None. A key the record has
    revoked while the store has not (an undone revocation, or a crash between the event and
    the store write) is refused as revoked — the record wins — and reported by
    :func:`revocation_gap`."""
    key_id, role, actor, _created, revoked_at, token_sha256 = row
    if recorded is None:
        return "no key_create event in the ledger created it"
    if recorded.commitment is None:
        return (f"its key_create event (ledger event {recorded.created_seq}) predates keys "
                "bound to the record; create a new key and revoke this one")
    if token_commitment(token_sha256) != recorded.commitment:
        return "its token hash is not the one its key_create event committed to"
    if role != recorded.role:
        return f"role {role!r}, but the ledger records {recorded.role!r}"
    if actor != recorded.actor:
        return f"actor {actor!r}, but the ledger records {recorded.actor!r}"
    if revoked_at is not None and not recorded.revoked:
        return "revoked in the store, but the ledger records no revocation"
    return None


def revocation_gap(row: tuple[str, str, str, str, str | None, str],
                   recorded: RecordedKey | None) -> str | None:
    """Why a row is not revoked although the record revokes it, or None."""
    if recorded is not None and recorded.revoked and row[4] is None:
        return (f"revoked in the ledger ({recorded.revoked_at}) but not in the store (an undone "
                "revocation, or a crash before the store was written): refused as revoked; "
                f"`faceaudit keys revoke {row[0]}` writes the store again")
    return None
