"""Signed tree heads: the deployment's signed statement "my log has N entries and this root".

A head is ``{tree_size, root_hash, timestamp, key_id, signature}`` and, since
``faceaudit-sth/2``, ``{format, prev_head_hash, prev_tree_size}``: each head names the one before
it, so the heads form their own chain. The signature covers :func:`sth2_message` (sth/2) or
:func:`sth_message` (sth/1, older homes). Heads are appended to ``HOME/ledger.sth.jsonl`` (one
canonical JSON object a line) under the ledger lock; witnesses keep the ones they have seen in
their own folder.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from faceaudit.ledger.canonical import canonical
from faceaudit.ledger.errors import LedgerError
from faceaudit.ledger.signing import fingerprint, signature_valid

STH_FIELDS = ("tree_size", "root_hash", "timestamp", "key_id", "signature")
STH2_FIELDS = (*STH_FIELDS, "format", "prev_head_hash", "prev_tree_size")
STH_DOMAIN = b"faceaudit-sth/1\n"
STH2_FORMAT = "faceaudit-sth/2"
STH2_DOMAIN = STH2_FORMAT.encode("ascii") + b"\n"
#: ``prev_head_hash`` of a home's first sth/2 head when no head came before it
NO_PREVIOUS_HEAD = "0" * 64
_TAIL = 4096


@dataclass(frozen=True)
class SignedTreeHead:
    """A signed tree head; ``root_hash`` is hex, ``timestamp`` ISO-8601 UTC.

    ``faceaudit-sth/2`` heads (``format`` set) also sign ``prev_head_hash`` (:func:`head_hash`
    of the head before them) and ``prev_tree_size``, so the heads form their own chain;
    ``faceaudit-sth/1`` heads (of older homes, ``format`` None) do not.
    """

    tree_size: int
    root_hash: str
    timestamp: str
    key_id: str
    signature: str
    format: str | None = None
    prev_head_hash: str | None = None
    prev_tree_size: int | None = None

    @property
    def root(self) -> bytes:
        """The root hash as bytes."""
        return bytes.fromhex(self.root_hash)

    @property
    def chained(self) -> bool:
        """Whether this is a ``faceaudit-sth/2`` head (it names the head before it)."""
        return self.format == STH2_FORMAT

    def to_dict(self) -> dict[str, Any]:
        """Return the head as a JSON-ready dict (sth/1 heads: their five fields only)."""
        out = asdict(self)
        if not self.chained:
            for name in ("format", "prev_head_hash", "prev_tree_size"):
                del out[name]
        return out

    def message(self) -> bytes:
        """The bytes the signature covers."""
        if self.chained:
            assert self.prev_head_hash is not None and self.prev_tree_size is not None
            return sth2_message(self.tree_size, self.root_hash, self.timestamp, self.key_id,
                                self.prev_head_hash, self.prev_tree_size)
        return sth_message(self.tree_size, self.root_hash, self.timestamp, self.key_id)

    def problem(self, public_key: Any) -> str | None:
        """Return why this head is not a valid head signed by ``public_key``, or None."""
        if self.key_id != fingerprint(public_key):
            return (f"tree head signed by key {self.key_id}, not by the pinned key "
                    f"{fingerprint(public_key)} (public key replaced?)")
        if not signature_valid(public_key, self.message(), self.signature):
            return f"the signature of tree head {self.tree_size} does not verify (forged)"
        return None

    def follows_problem(self, previous: SignedTreeHead | None) -> str | None:
        """Why this head cannot come right after ``previous`` (None: the first head), or None.

        An sth/2 head must name ``previous`` (its hash and size; the first head names
        :data:`NO_PREVIOUS_HEAD` and 0) and cover at least as many events; an sth/1 head may
        not follow an sth/2 head (a downgrade)."""
        if not self.chained:
            if previous is not None and previous.chained:
                return "an unchained faceaudit-sth/1 head after faceaudit-sth/2 heads"
            if previous is not None and self.tree_size < previous.tree_size:
                return "smaller than the head before it"
            return None
        want_hash = head_hash(previous) if previous is not None else NO_PREVIOUS_HEAD
        want_size = previous.tree_size if previous is not None else 0
        if self.prev_head_hash != want_hash or self.prev_tree_size != want_size:
            return ("does not name the head before it (head chain broken: a head deleted, "
                    "reordered or replaced)")
        if self.tree_size < want_size:
            return "smaller than the head before it"
        return None


def head_hash(head: SignedTreeHead) -> str:
    """The SHA-256 hex digest of a head's canonical JSON (what the next head names)."""
    return hashlib.sha256(canonical(head.to_dict())).hexdigest()


def sth_message(tree_size: int, root_hash: str, timestamp: str, key_id: str) -> bytes:
    """Return the bytes an sth/1 head signs: a domain tag and the canonical JSON of its fields."""
    body = {"key_id": key_id, "root_hash": root_hash, "timestamp": timestamp,
            "tree_size": tree_size}
    return STH_DOMAIN + canonical(body)


def sth2_message(tree_size: int, root_hash: str, timestamp: str, key_id: str,
                 prev_head_hash: str, prev_tree_size: int) -> bytes:
    """Return the bytes an sth/2 head signs: its domain tag and the canonical JSON of its
    fields, the previous head's hash and size included."""
    body = {"key_id": key_id, "prev_head_hash": prev_head_hash,
            "prev_tree_size": prev_tree_size, "root_hash": root_hash, "timestamp": timestamp,
            "tree_size": tree_size}
    return STH2_DOMAIN + canonical(body)


def make_sth(signer: Any, tree_size: int, root: bytes, previous: SignedTreeHead | None = None,
             now: datetime | None = None) -> SignedTreeHead:
    """Sign the sth/2 head of a tree of ``tree_size`` leaves with root ``root``, chained to
    ``previous`` (the newest head before it, or None). ``signer`` is a
    :class:`~faceaudit.ledger.signer.Signer` or an Ed25519 private key."""
    timestamp = (now or datetime.now(UTC)).isoformat(timespec="microseconds")
    key_id = fingerprint(signer.public_key())
    prev_hash = head_hash(previous) if previous is not None else NO_PREVIOUS_HEAD
    prev_size = previous.tree_size if previous is not None else 0
    message = sth2_message(tree_size, root.hex(), timestamp, key_id, prev_hash, prev_size)
    signature = base64.b64encode(signer.sign(message)).decode("ascii")
    return SignedTreeHead(tree_size, root.hex(), timestamp, key_id, signature,
                          STH2_FORMAT, prev_hash, prev_size)


def parse_sth(obj: Any) -> SignedTreeHead:
    """Build a head (sth/1 or sth/2) from decoded JSON, raising :class:`LedgerError` when
    malformed."""
    if not isinstance(obj, dict) or set(obj) not in (set(STH_FIELDS), set(STH2_FIELDS)):
        raise LedgerError("not a signed tree head (unexpected fields)")
    size, root = obj["tree_size"], obj["root_hash"]
    if not _count(size):
        raise LedgerError("tree head: tree_size must be a non-negative integer")
    if not _hex64(root):
        raise LedgerError("tree head: root_hash must be 64 lower-case hex digits")
    try:
        datetime.fromisoformat(obj["timestamp"])
    except (ValueError, TypeError):
        raise LedgerError("tree head: bad timestamp") from None
    if not all(isinstance(obj[k], str) for k in ("timestamp", "key_id", "signature")):
        raise LedgerError("tree head: timestamp, key_id and signature must be strings")
    head = SignedTreeHead(size, root, obj["timestamp"], obj["key_id"], obj["signature"])
    if "format" not in obj:
        return head
    if obj["format"] != STH2_FORMAT:
        raise LedgerError(f"tree head: unknown format {obj['format']!r}")
    if not _hex64(obj["prev_head_hash"]) or not _count(obj["prev_tree_size"]):
        raise LedgerError("tree head: bad prev_head_hash or prev_tree_size")
    return replace(head, format=STH2_FORMAT, prev_head_hash=obj["prev_head_hash"],
                   prev_tree_size=obj["prev_tree_size"])


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _hex64(value: Any) -> bool:
    if not isinstance(value, str) or len(value) != 64 or value != value.lower():
        return False
    try:
        bytes.fromhex(value)
    except ValueError:
        return False
    return True


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

    def replace(self, heads: list[SignedTreeHead]) -> None:
        """Replace every head by ``heads`` (``ledger restore-heads``; under the ledger lock)."""
        tmp = self.path.with_suffix(".restore")
        tmp.write_bytes(b"".join(canonical(h.to_dict()) + b"\n" for h in heads))
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)

    def append(self, head: SignedTreeHead) -> None:
        """Append ``head`` and flush it to disk (callers hold the ledger lock)."""
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, canonical(head.to_dict()) + b"\n")
            os.fdatasync(fd)
        finally:
            os.close(fd)


def receipt_problem(receipt: dict[str, Any], public_key: Any,
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
