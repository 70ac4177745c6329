"""Log first, or not at all: every state-changing operation as intent → commit → outcome.

A deployment's gallery (SQLite) and its ledger (a JSON-lines file) cannot share one
transaction, so :class:`OperationLog` makes them agree from the outside:

1. every ledger event the operation will write is validated first (field lengths, payload
   rules) — a bad event is a 4xx :class:`InvalidRequestError` before anything is touched;
2. an ``intent`` event is appended — this is also the check that the ledger is usable: a
   ledger that disagrees with its head witness, or a full disk, stops the operation here;
3. the store commits the write *together with* the outcome events it owes the ledger
   (``pending_events``, same SQLite transaction);
4. the outcome events are appended (``result.intent_id`` names the intent), then the pending
   row is cleared.

While an operation is in flight its process holds a claim on it
(:mod:`faceaudit.deployment.claims`: an
``flock`` on ``HOME/intents/<id>.intent``, or on PostgreSQL an advisory lock and a row of the
``intents`` table, so that replicas on other hosts see it too).
:meth:`OperationLog.recover` (run whenever a :class:`~faceaudit.deployment.operations.Deployment`
opens)
takes every claim whose owner died and reconciles it against the store: outcome already in
the ledger → clear; store committed (pending row) → append the stored outcome (roll forward,
``result.recovered = true``); intent logged but store not committed → append ``aborted``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from faceaudit.base.errors import FaceAuditError
from faceaudit.base.home import Home
from faceaudit.deployment.claims import Claim, open_claims
from faceaudit.gallery.errors import InvalidRequestError
from faceaudit.gallery.store import GalleryStore, Intent
from faceaudit.ledger import Ledger
from faceaudit.ledger.errors import LedgerEventError
from faceaudit.ledger.schema import check_fields, event  # event: the Deployment's too

T = TypeVar("T")
Events = list[dict[str, Any]]
_PLACEHOLDER_ID = "0" * 32


def check_events(events: Events) -> None:
    """Validate events (:func:`~faceaudit.ledger.schema.event` fields) exactly as the ledger
    will, raising :class:`InvalidRequestError` (4xx).

    Run before anything is stored, so bad input never reaches the point where a committed
    change has no event.
    """
    try:
        for fields in events:
            check_fields(fields)
    except LedgerEventError as exc:
        raise InvalidRequestError(f"cannot be recorded: {exc}") from None


def append(ledger: Ledger, fields: dict[str, Any]) -> dict[str, Any]:
    """Append one event given as :func:`~faceaudit.ledger.schema.event` fields (as the
    pending store keeps them); return it as stored."""
    rest = {k: v for k, v in fields.items() if k not in ("actor", "action")}
    return ledger.append(fields["actor"], fields["action"], **rest)


def _stamp(events: Events, intent_id: str, **extra: Any) -> Events:
    return [{**e, "result": {**(e["result"] or {}), "intent_id": intent_id, **extra}}
            for e in events]


class OperationLog:
    """Runs state-changing operations log-first against one home's ledger and gallery store."""

    def __init__(self, home: Home, ledger: Ledger, store: GalleryStore) -> None:
        self.home = home
        self.ledger = ledger
        self.store = store
        self.claims = open_claims(home)

    @property
    def intents_dir(self) -> Path:
        """Where in-flight operations keep their (locked) claim files (file backend)."""
        return self.home.root / "intents"

    def run(
        self,
        operation: str,
        *,
        actor: str,
        write: Callable[[Intent], T],
        outcome: Callable[[T], Events],
        preview: T,
        purpose: str | None = None,
        case: str | None = None,
        backend_id: str | None = None,
    ) -> tuple[T, Events]:
        """Run ``write`` (a store write that takes an :class:`Intent`) log-first.

        ``outcome(value)`` builds the ledger events of the write's result; ``preview`` is a
        stand-in result used to validate those events before anything happens. Returns the
        write's result and the outcome events as stored in the ledger.
        """
        intent_fields = event(actor, "intent", purpose=purpose, case=case,
                              backend_id=backend_id,
                              result={"intent_id": _PLACEHOLDER_ID, "operation": operation})
        check_events([intent_fields, *_stamp(outcome(preview), _PLACEHOLDER_ID)])
        self.recover_claims()  # an earlier operation of this process may still owe an event
        intent_id = uuid.uuid4().hex
        with self.claims.claim(intent_id, operation, actor) as claim:
            try:
                append(self.ledger, {**intent_fields,
                                     "result": {"intent_id": intent_id, "operation": operation}})
            except FaceAuditError:
                if not self._intent_logged(intent_id, claim):
                    claim.resolved = True  # nothing was logged and nothing was touched
                raise
            try:
                value = write(Intent(intent_id, lambda v: _stamp(outcome(v), intent_id)))
            except BaseException as exc:
                try:
                    self._settle(intent_id, operation, actor, reason=_reason(exc))
                    claim.resolved = True
                except Exception:  # noqa: BLE001 - the write's own error is the one to raise;
                    pass  # the claim stays for recovery
                raise
            events = [append(self.ledger, e) for e in _stamp(outcome(value), intent_id)]
            self.store.clear_intent(intent_id)
            claim.resolved = True
        return value, events

    # -- recovery ----------------------------------------------------------------------------

    def recover(self) -> Events:
        """Reconcile every operation whose process died mid-way; return the events appended.

        Operations still in flight (their claim file is locked) are left alone. A ledger that
        refuses the append (tampered, full disk) raises, so nothing runs on top of it.
        """
        appended, claimed = self._recover_claims()
        if self.store.exists():
            for intent_id in self.store.pending_intent_ids():
                if intent_id not in claimed:
                    appended += self._reconcile(intent_id, None, "faceaudit", None)
        return appended

    def recover_claims(self) -> Events:
        """Reconcile the claims whose owner died or gave up (cheap: a directory listing);
        run before every operation, so a process that keeps running heals itself too."""
        return self._recover_claims()[0]

    def _recover_claims(self) -> tuple[Events, set[str]]:
        return self.claims.recover(self._reconcile)

    def _reconcile(
        self, intent_id: str, operation: str | None, actor: str, since: datetime | None
    ) -> Events:
        seen_intent = seen_outcome = False
        start = since or datetime(1970, 1, 1, tzinfo=UTC)
        for logged in self.ledger.recent(start):
            result = logged.get("result") or {}
            if result.get("intent_id") != intent_id:
                continue
            if logged["action"] == "intent":
                seen_intent = True
                operation = operation or result.get("operation")
            else:
                seen_outcome = True
        pending = self.store.pending_intent(intent_id) if self.store.exists() else None
        appended: Events = []
        if seen_outcome:
            pass
        elif pending is not None:
            appended = [append(self.ledger, {**e, "result": {**e["result"], "recovered": True}})
                        for e in pending]
        elif seen_intent:
            appended = [append(self.ledger, event(
                actor, "aborted",
                result={"intent_id": intent_id, "operation": operation, "reason": "interrupted"},
            ))]
        if pending is not None:
            self.store.clear_intent(intent_id)
        return appended

    # -- internals ---------------------------------------------------------------------------

    def _settle(self, intent_id: str, operation: str, actor: str, *, reason: str) -> None:
        """After a failed write: roll forward if the store committed anyway, else abort."""
        pending = self.store.pending_intent(intent_id)
        if pending is not None:
            for fields in pending:
                append(self.ledger, fields)
            self.store.clear_intent(intent_id)
            return
        append(self.ledger, event(actor, "aborted", result={
            "intent_id": intent_id, "operation": operation, "reason": reason}))

    def _intent_logged(self, intent_id: str, claim: Claim) -> bool:
        try:
            return any((e.get("result") or {}).get("intent_id") == intent_id
                       for e in self.ledger.recent(datetime.now(UTC) - timedelta(minutes=10)))
        except FaceAuditError:
            return True  # cannot tell: leave the claim for recovery


def _reason(exc: BaseException) -> str:
    code = getattr(exc, "code", None)
    return code if isinstance(code, str) else type(exc).__name__
