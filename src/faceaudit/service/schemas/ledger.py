"""Responses of ``/v1/ledger``: events, verification, signed heads, proofs."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from faceaudit.service.schemas.common import Open


class LedgerEvent(Open):
    """One ledger event (docs/ledger.md)."""

    seq: int
    time: str
    actor: str
    action: str
    result: dict[str, Any] | None = None
    prev_hash: str
    hash: str


class EventPage(Open):
    """A page of ledger events."""

    events: list[LedgerEvent]
    next_after: int | None = Field(description="Pass as `after` for the next page; null on "
                                   "the last.")


class LedgerVerification(Open):
    """The ledger's verification (200 even when tampered: read ``ok``)."""

    ok: bool
    n_events: int
    first_bad_seq: int | None
    reason: str | None
    checkpoints_verified: int
    torn_tail_bytes: int
    tree_heads_verified: int
    signed_size: int
    summary: str = Field(description="The line `faceaudit ledger verify` prints.")
    stores: list[str] = Field(description="Rows of the gallery or keys.db that disagree with "
                              "the ledger (checked when it is intact).")


class ConsistencyProof(Open):
    """Proof that the log of ``first`` events is a prefix of the log of ``second``."""

    first: int
    second: int
    first_root: str
    second_root: str
    proof: list[str]
