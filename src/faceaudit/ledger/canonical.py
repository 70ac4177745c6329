"""The canonical byte encoding of a ledger event and its SHA-256 chain hash."""

from __future__ import annotations

import hashlib
import json
from typing import Any

GENESIS_HASH = "0" * 64


def canonical(obj: dict[str, Any]) -> bytes:
    """Encode ``obj`` as sorted-key, separator-free, ASCII-only JSON bytes (no newline)."""
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    ).encode("ascii")


def event_hash(event: dict[str, Any]) -> str:
    """Return the SHA-256 hex digest of the canonical encoding of ``event`` without ``hash``."""
    body = {k: v for k, v in event.items() if k != "hash"}
    return hashlib.sha256(canonical(body)).hexdigest()
