"""Verification of a ledger file: hash chain, canonical bytes, head witness, signed checkpoints."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from faceaudit.ledger.canonical import GENESIS_HASH, canonical, event_hash
from faceaudit.ledger.errors import LedgerError
from faceaudit.ledger.schema import ACTIONS, EVENT_KEYS
from faceaudit.ledger.signing import (
    PublicKey,
    checkpoint_message,
    fingerprint,
    load_public_key,
    signature_valid,
)


@dataclass(frozen=True)
class VerifyReport:
    """The outcome of :meth:`Ledger.verify`.

    ``first_bad_seq`` is the 1-based position of the first event that fails (for truncation:
    the first missing one), or None when the ledger is intact or the fault is not tied to one
    event (missing head witness). ``torn_tail_bytes`` counts the bytes of an interrupted final
    append (no newline, never acknowledged), which are not part of the ledger.
    """

    ok: bool
    n_events: int
    first_bad_seq: int | None
    reason: str | None
    checkpoints_verified: int
    torn_tail_bytes: int = 0
    tree_heads_verified: int = 0
    signed_size: int = 0

    def summary(self) -> str:
        """Return a one-line human summary."""
        if self.ok:
            text = (
                f"ledger intact: {self.n_events} events, {self.tree_heads_verified} signed "
                f"tree heads verified (the latest covers {self.signed_size} events)"
            )
            if self.checkpoints_verified:
                text += f", {self.checkpoints_verified} signed checkpoints verified"
            if self.torn_tail_bytes:
                text += f" ({self.torn_tail_bytes} bytes of an interrupted append ignored)"
            return text
        where = f"event {self.first_bad_seq}" if self.first_bad_seq is not None else "ledger"
        return f"ledger TAMPERED: {where}: {self.reason}"


@dataclass(frozen=True)
class Head:
    """The head witness: sequence number and hash of the last acknowledged event."""

    seq: int
    hash: str


def parse_head(raw: bytes) -> Head:
    """Parse the head witness file's bytes, raising :class:`LedgerError` when malformed."""
    try:
        obj = json.loads(raw)
        head = Head(int(obj["seq"]), str(obj["hash"]))
    except (ValueError, KeyError, TypeError):
        raise LedgerError("the ledger head witness is unreadable") from None
    if head.seq < 0:
        raise LedgerError("the ledger head witness is unreadable")
    if canonical({"hash": head.hash, "seq": head.seq}) != raw.rstrip(b" \n"):
        raise LedgerError("the ledger head witness is not canonically encoded")
    return head


HEAD_SIZE = 128


def head_bytes(head: Head) -> bytes:
    """Encode a head witness as one fixed-size record (space-padded JSON and a newline), so it
    can be overwritten in place with a single small write."""
    return canonical({"hash": head.hash, "seq": head.seq}).ljust(HEAD_SIZE - 1) + b"\n"


def parse_event(line: bytes) -> dict[str, Any]:
    """Parse one ledger line, checking its fields and canonical encoding (not the chain)."""
    try:
        event = json.loads(line.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        raise LedgerError("not a valid JSON event") from None
    if not isinstance(event, dict) or set(event) != set(EVENT_KEYS):
        raise LedgerError("not a ledger event (unexpected fields)")
    try:
        encoded = canonical(event)
    except ValueError:
        raise LedgerError("not canonically encodable") from None
    if encoded != line:
        raise LedgerError("bytes differ from the canonical encoding (altered)")
    if event["hash"] != event_hash(event):
        raise LedgerError("hash does not match the event (modified)")
    return event


def head_consistent(head: Head | None, last: dict[str, Any] | None) -> bool:
    """Whether the last complete event agrees with the head witness.

    It agrees when it *is* the witnessed event, or the one right after it (a process stopped
    between writing the event and updating the witness).
    """
    head = head or Head(0, GENESIS_HASH)
    if last is None:
        return head.seq == 0
    if last["seq"] == head.seq and last["hash"] == head.hash:
        return True
    return last["seq"] == head.seq + 1 and last["prev_hash"] == head.hash


def verify_bytes(
    data: bytes, head: Head | None, public_key_path: Path | None
) -> VerifyReport:
    """Verify ledger file contents ``data`` against its head witness and public key."""
    *lines, fragment = data.split(b"\n")
    prev_hash = GENESIS_HASH
    checkpoints = 0
    public_key: PublicKey | None = None
    events: list[dict[str, Any]] = []

    def bad(position: int | None, reason: str) -> VerifyReport:
        return VerifyReport(False, len(events), position, reason, checkpoints, len(fragment))

    for position, line in enumerate(lines, start=1):
        try:
            event = parse_event(line)
        except LedgerError as exc:
            return bad(position, str(exc))
        if event["seq"] != position:
            return bad(
                position,
                f"sequence number {event['seq']} where {position} was expected "
                "(event deleted, inserted or reordered)",
            )
        if event["prev_hash"] != prev_hash:
            return bad(position, "does not chain to the previous event")
        if event["action"] not in ACTIONS:
            return bad(position, f"unknown action {event['action']!r}")
        if event["action"] == "checkpoint":
            if public_key is None:
                if public_key_path is None or not Path(public_key_path).exists():
                    return bad(position, "signed checkpoint but no public key to check it")
                public_key = load_public_key(public_key_path)
            problem = checkpoint_problem(event, public_key)
            if problem:
                return bad(position, problem)
            checkpoints += 1
        events.append(event)
        prev_hash = event["hash"]

    last = events[-1] if events else None
    if head is None and len(events) > 1:
        return bad(None, "the head witness (ledger.head) is missing")
    if not head_consistent(head, last):
        n = len(events)
        if head is not None and head.seq > n:
            return bad(n + 1, f"ledger ends after {n} events but {head.seq} were recorded "
                       "(truncated)")
        if head is not None and head.seq >= 1 and events[head.seq - 1]["hash"] != head.hash:
            return bad(head.seq, "does not match the head witness (modified or replaced)")
        return bad((head.seq if head else 0) + 2, "events appended behind the head witness")
    return VerifyReport(True, len(events), None, None, checkpoints, len(fragment))


def checkpoint_problem(event: dict[str, Any], public_key: PublicKey) -> str | None:
    """Return why a checkpoint event is invalid, or None when its signature verifies."""
    result = event["result"]
    if not isinstance(result, dict) or set(result) != {
        "covers_seq",
        "covers_hash",
        "key_id",
        "signature",
    }:
        return "malformed checkpoint"
    if result["covers_seq"] != event["seq"] - 1 or result["covers_hash"] != event["prev_hash"]:
        return "checkpoint does not cover the preceding event"
    if result["key_id"] != fingerprint(public_key):
        return f"checkpoint signed by another key ({result['key_id']})"
    message = checkpoint_message(result["covers_seq"], result["covers_hash"])
    if not isinstance(result["signature"], str) or not signature_valid(
        public_key, message, result["signature"]
    ):
        return "checkpoint signature does not verify (forged)"
    return None
