"""Signed tree heads: the deployment's signed statement "my log has N entries and this root".

A head is ``{tree_size, root_hash, timestamp, key_id, signature}``; the Ed25519 signature covers
:func:`sth_message`. Heads are appended to ``HOME/ledger.sth.jsonl`` (one canonical JSON object a
line) under the ledger lock; witnesses keep the ones they have seen in their own folder.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from faceaudit.ledger.canonical import canonical
from faceaudit.ledger.errors import LedgerError
from faceaudit.ledger.signing import fingerprint, sign, signature_valid

STH_FIELDS = ("tree_size", "root_hash", "timestamp", "key_id", "signature")
STH_DOMAIN = b"faceaudit-sth/1\n"
_TAIL = 4096


@dataclass(frozen=True)
class SignedTreeHead:
    """A signed tree head; ``root_hash`` is hex, ``timestamp`` ISO-8601 UTC."""

    tree_size: int
    root_hash: str
    timestamp: str
    key_id: str
    signature: str

    @property
    def root(self) -> bytes:
        """The root hash as bytes."""
        return bytes.fromhex(self.root_hash)

    def to_dict(self) -> dict[str, Any]:
        """Return the head as a JSON-ready dict."""
        return asdict(self)

    def message(self) -> bytes:
        """The bytes the signature covers."""
        return sth_message(self.tree_size, self.root_hash, self.timestamp, self.key_id)

    def problem(self, public_key: Ed25519PublicKey) -> str | None:
        """Return why this head is not a valid head signed by ``public_key``, or None."""
        if self.key_id != fingerprint(public_key):
            return (f"tree head signed by key {self.key_id}, not by the pinned key "
                    f"{fingerprint(public_key)} (public key replaced?)")
        if not signature_valid(public_key, self.message(), self.signature):
            return f"the signature of tree head {self.tree_size} does not verify (forged)"
        return None


def sth_message(tree_size: int, root_hash: str, timestamp: str, key_id: str) -> bytes:
    """Return the signed bytes: a domain tag and the canonical JSON of the head's fields."""
    body = {"key_id": key_id, "root_hash": root_hash, "timestamp": timestamp,
            "tree_size": tree_size}
    return STH_DOMAIN + canonical(body)


def make_sth(key: Ed25519PrivateKey, tree_size: int, root: bytes,
             now: datetime | None = None) -> SignedTreeHead:
    """Sign the head of a tree of ``tree_size`` leaves with root ``root``."""
    timestamp = (now or datetime.now(UTC)).isoformat(timespec="microseconds")
    key_id = fingerprint(key.public_key())
    message = sth_message(tree_size, root.hex(), timestamp, key_id)
    return SignedTreeHead(tree_size, root.hex(), timestamp, key_id, sign(key, message))


def parse_sth(obj: Any) -> SignedTreeHead:
    """Build a head from decoded JSON, raising :class:`LedgerError` when malformed."""
    if not isinstance(obj, dict) or set(obj) != set(STH_FIELDS):
        raise LedgerError("not a signed tree head (unexpected fields)")
    size, root = obj["tree_size"], obj["root_hash"]
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise LedgerError("tree head: tree_size must be a non-negative integer")
    if not isinstance(root, str) or len(root) != 64 or root != root.lower():
        raise LedgerError("tree head: root_hash must be 64 lower-case hex digits")
    try:
        bytes.fromhex(root)
        datetime.fromisoformat(obj["timestamp"])
    except (ValueError, TypeError):
        raise LedgerError("tree head: bad root_hash or timestamp") from None
    if not all(isinstance(obj[k], str) for k in ("timestamp", "key_id", "signature")):
        raise LedgerError("tree head: timestamp, key_id and signature must be strings")
    return SignedTreeHead(size, root, obj["timestamp"], obj["key_id"], obj["signature"])


class SthLog:
    """The append-only file of every head the deployment signed."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def exists(self) -> bool:
        """Whether the file exists."""
        return self.path.exists()

    def heads(self) -> list[SignedTreeHead]:
        """Every complete, well-formed head in order (an interrupted last line is skipped)."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        heads = []
        for n, line in enumerate(data.split(b"\n")[:-1], start=1):
            try:
                heads.append(parse_sth(json.loads(line)))
            except (ValueError, LedgerError) as exc:
                raise LedgerError(f"{self.path.name} line {n}: {exc}") from None
        return heads

    def latest(self) -> SignedTreeHead | None:
        """The last head, or None (reads only the end of the file)."""
        try:
            with open(self.path, "rb") as fh:
                size = fh.seek(0, os.SEEK_END)
                fh.seek(max(0, size - _TAIL))
                tail = fh.read()
        except FileNotFoundError:
            return None
        lines = tail.split(b"\n")[:-1]
        if not lines:
            return None
        if len(lines) == 1 and size > _TAIL:  # a line longer than the window: read it all
            heads = self.heads()
            return heads[-1] if heads else None
        try:
            return parse_sth(json.loads(lines[-1]))
        except (ValueError, LedgerError) as exc:
            raise LedgerError(f"{self.path.name}, last line: {exc}") from None

    def append(self, head: SignedTreeHead) -> None:
        """Append ``head`` and flush it to disk (callers hold the ledger lock)."""
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, canonical(head.to_dict()) + b"\n")
            os.fdatasync(fd)
        finally:
            os.close(fd)


def receipt_problem(receipt: dict[str, Any], public_key: Ed25519PublicKey,
                    event: dict[str, Any] | None = None) -> str | None:
    """Return why a receipt (:meth:`Ledger.receipt`) does not prove its event is in the log
    signed by ``public_key``, or None when it does. With ``event``, also check that the receipt
    is for exactly that event (its canonical bytes are the leaf)."""
    from faceaudit.ledger import merkle

    try:
        head = parse_sth(receipt.get("sth"))
        size, index = int(receipt["tree_size"]), int(receipt["leaf_index"])
        leaf = bytes.fromhex(receipt["leaf_hash"])
        path = [bytes.fromhex(h) for h in receipt["audit_path"]]
    except (LedgerError, KeyError, TypeError, ValueError, AttributeError):
        return "not a receipt"
    problem = head.problem(public_key)
    if problem:
        return problem
    if head.tree_size != size or head.root_hash != receipt.get("root_hash"):
        return "the receipt's tree is not the one its signed head covers"
    if event is not None and merkle.leaf_hash(canonical(event)) != leaf:
        return "the receipt is for another event"
    if not merkle.verify_inclusion(index, size, leaf, path, head.root):
        return "the audit path does not lead to the signed root"
    return None
