"""The append-only, hash-chained ledger file of one deployment (see docs/ledger.md)."""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from faceaudit.home import Home
from faceaudit.ledger import merkle
from faceaudit.ledger.canonical import GENESIS_HASH, canonical, event_hash
from faceaudit.ledger.errors import (
    LedgerError,
    LedgerEventError,
    LedgerRangeError,
    LedgerTamperedError,
)
from faceaudit.ledger.payload import check_number, check_result, check_text
from faceaudit.ledger.signing import (
    SIGNING_KEY_ENV,
    fingerprint,
    generate_keypair,
    load_private_key,
    load_public_key,
)
from faceaudit.ledger.sth import SignedTreeHead, SthLog, make_sth
from faceaudit.ledger.transparency_verify import check_transparency
from faceaudit.ledger.tree import StoredTree
from faceaudit.ledger.verify import (
    ACTIONS,
    Head,
    VerifyReport,
    head_bytes,
    head_consistent,
    parse_event,
    parse_head,
    verify_bytes,
)

_CHUNK = 65536
STH_EVERY_ENV = "FACEAUDIT_STH_EVERY"
STH_SECONDS_ENV = "FACEAUDIT_STH_SECONDS"
DEFAULT_STH_EVERY = 100
DEFAULT_STH_SECONDS = 3600.0


class Ledger:
    """The ledger at ``home.ledger_path``, created on the first append.

    Appends from several processes are serialised with an exclusive ``flock`` on
    ``ledger.lock``; each one is fsynced, then the head witness ``ledger.head`` is replaced and
    the event's leaf is added to the stored Merkle tree (``ledger.tree/``). A signed tree head
    (``ledger.sth.jsonl``) is made automatically when ``sth_every`` events or ``sth_seconds``
    seconds have passed since the last one (checked on append), with the signing key:
    ``signing_key``, else ``$FACEAUDIT_SIGNING_KEY``, else the home's own key
    (``home.signing_key_path``, created with the first event of a home that has no public key).
    """

    def __init__(
        self,
        home: Home,
        *,
        signing_key: Path | None = None,
        sth_every: int | None = None,
        sth_seconds: float | None = None,
    ) -> None:
        self.home = home
        env_key = os.environ.get(SIGNING_KEY_ENV)
        self.configured_key = signing_key or (Path(env_key) if env_key else None)
        self.sth_every = sth_every if sth_every is not None else _env_number(
            STH_EVERY_ENV, DEFAULT_STH_EVERY, int)
        self.sth_seconds = sth_seconds if sth_seconds is not None else _env_number(
            STH_SECONDS_ENV, DEFAULT_STH_SECONDS, float)
        if self.sth_every < 1 or self.sth_seconds <= 0:
            raise ValueError("sth_every must be >= 1 and sth_seconds > 0")

    @property
    def signing_key(self) -> Path | None:
        """The private key that signs tree heads, or None when this process has none."""
        if self.configured_key is not None:
            return self.configured_key
        own = self.home.signing_key_path
        return own if own.exists() else None

    @property
    def tree(self) -> StoredTree:
        """The stored Merkle tree over the ledger's events."""
        return StoredTree(self.path.with_suffix(".tree"))

    @property
    def sth_log(self) -> SthLog:
        """The signed tree heads the deployment made."""
        return SthLog(self.path.with_suffix(".sth.jsonl"))

    @property
    def path(self) -> Path:
        """The JSON-lines ledger file."""
        return self.home.ledger_path

    @property
    def head_path(self) -> Path:
        """The head witness: seq and hash of the last acknowledged event."""
        return self.path.with_suffix(".head")

    @property
    def lock_path(self) -> Path:
        """The lock file that serialises appenders."""
        return self.path.with_suffix(".lock")

    @property
    def torn_path(self) -> Path:
        """Where the bytes of interrupted appends are kept when the next appender removes them."""
        return self.path.with_suffix(".torn")

    def append(
        self,
        actor: str,
        action: str,
        *,
        purpose: str | None = None,
        case: str | None = None,
        legal_basis: str | None = None,
        backend_id: str | None = None,
        threshold: float | None = None,
        result: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Append one event and return it as stored (with ``seq``, ``time``, ``hash``…).

        Raises :class:`LedgerEventError` for an unknown action or a result that is not counts
        and ids, and :class:`LedgerError` when the file disagrees with its head witness.
        """
        if action not in ACTIONS:
            raise LedgerEventError(f"unknown ledger action {action!r}")
        fields = {
            "actor": check_text("actor", actor, required=True),
            "action": action,
            "purpose": check_text("purpose", purpose),
            "case": check_text("case", case),
            "legal_basis": check_text("legal_basis", legal_basis),
            "backend_id": check_text("backend_id", backend_id),
            "threshold": check_number("threshold", threshold),
            "result": check_result(result),
        }
        self.home.ensure()
        with self._locked(), open(self.path, "a+b") as fh:
            last = self._prepare_tail(fh)
            self._sync_tree(last)
            if last is None:
                self._ensure_own_key()
            key = load_private_key(self.signing_key) if self.signing_key else None
            if key is not None:  # a key that cannot sign stops the append before it is made
                self._check_key_is_the_deployments(key)
            event = self._write(fh, last, fields)
            if key is not None and self._sth_due(event["seq"]):
                self._sign_head(key, event["seq"])
        return event

    def sign_tree_head(self, private_key_path: Path | None = None) -> SignedTreeHead:
        """Sign and store a tree head for the ledger as it is now (``faceaudit ledger sth``),
        with ``private_key_path`` or the deployment's configured key; the key's public half
        must be the home's."""
        path = private_key_path or self.signing_key
        if path is None:
            raise LedgerError(
                f"no signing key: pass one, set {SIGNING_KEY_ENV} or keep the home's own key "
                f"at {self.home.signing_key_path}")
        key = load_private_key(path)
        with self._locked(), open(self.path, "a+b") as fh:
            last = self._prepare_tail(fh)
            self._sync_tree(last)
            if last is None:
                raise LedgerError("the ledger has no events to sign")
            return self._sign_head(key, last["seq"])

    def latest_tree_head(self) -> SignedTreeHead | None:
        """The newest signed tree head, or None."""
        return self.sth_log.latest()

    def inclusion_proof(self, seq: int, tree_size: int | None = None) -> dict[str, Any]:
        """Return the audit path proving event ``seq`` (1-based) is in the tree of
        ``tree_size`` events (default: the latest signed head's size, else the ledger's)."""
        with self._synced() as size:
            tree_size = self._default_size(tree_size, size)
            if tree_size < seq <= size and tree_size != size:  # the newest events: whole log
                tree_size = size
            if not 1 <= seq <= tree_size:
                raise LedgerRangeError(f"event {seq} is not in a log of {tree_size} events")
            return self._inclusion(seq, tree_size)

    def consistency_proof(self, first: int, second: int | None = None) -> dict[str, Any]:
        """Return the proof that the log of ``first`` events is a prefix of the log of
        ``second`` events (default: the latest signed head's size, else the ledger's)."""
        with self._synced() as size:
            second = self._default_size(second, size)
            if not 1 <= first <= second:
                raise LedgerRangeError(
                    f"no consistency proof from {first} to {second} events "
                    f"(need 1 <= first <= second <= {size})")
            path = self.tree.consistency(first, second)
            return {"first": first, "second": second,
                    "first_root": self.tree.root(first).hex(),
                    "second_root": self.tree.root(second).hex(),
                    "proof": [h.hex() for h in path]}

    def receipt(self, seq: int) -> dict[str, Any]:
        """Return the receipt of event ``seq``: a signed tree head that covers it (signed now
        if the latest one does not) and the audit path from the event to that head's root.

        ``sth`` is None only when this process has no signing key.
        """
        with self._locked(), open(self.path, "a+b") as fh:
            last = self._prepare_tail(fh)
            self._sync_tree(last)
            size = last["seq"] if last else 0
            if not 1 <= seq <= size:
                raise LedgerRangeError(f"event {seq} is not in a log of {size} events")
            head = self.sth_log.latest()
            if head is None or head.tree_size < seq:
                key = load_private_key(self.signing_key) if self.signing_key else None
                head = self._sign_head(key, size) if key is not None else None
            receipt = self._inclusion(seq, head.tree_size if head else size)
            receipt["sth"] = head.to_dict() if head else None
            return receipt

    def rebuild_tree(self) -> int:
        """Rebuild the stored Merkle tree from the ledger; return its size."""
        with self._locked(), open(self.path, "a+b") as fh:
            last = self._prepare_tail(fh)
            self.tree.rebuild(list(self._leaf_hashes(0)))
            self._sync_tree(last)
            return self.tree.size

    def events(
        self, start: datetime | None = None, end: datetime | None = None
    ) -> Iterator[dict[str, Any]]:
        """Yield events in order with ``start <= time < end`` (naive datetimes are UTC).

        An interrupted final append is skipped; a malformed line raises :class:`LedgerError`.
        """
        start, end = _utc(start), _utc(end)
        if not self.path.exists():
            return
        with open(self.path, "rb") as fh:
            for n, line in enumerate(fh, start=1):
                if not line.endswith(b"\n"):
                    return
                event = _parse_line(line[:-1], n)
                when = datetime.fromisoformat(event["time"])
                if (start is None or when >= start) and (end is None or when < end):
                    yield event

    def recent(self, since: datetime) -> Iterator[dict[str, Any]]:
        """Yield events newest first, stopping at the first one older than ``since``.

        Reads the file backwards, so its cost is the size of the window, not of the ledger;
        lines are parsed but not hash-checked (that is :meth:`verify`'s job).
        """
        since = _utc(since)
        if not self.path.exists():
            return
        with open(self.path, "rb") as fh:
            end = _last_newline(fh)
            if end is None:
                return
            for line in _reverse_lines(fh, end):
                event = _load_line(line)
                if datetime.fromisoformat(event["time"]) < since:
                    return
                yield event

    def verify(self, public_key_path: Path | None = None) -> VerifyReport:
        """Check the whole ledger: canonical bytes, hash chain, sequence, head witness, every
        signed checkpoint, the stored Merkle tree and every signed tree head, against
        ``public_key_path`` (default: the home's public key).

        An empty or missing ledger is not intact: every deployment records at least one event.
        """
        if not self.home.root.is_dir():
            return VerifyReport(False, 0, None, f"no deployment home at {self.home.root}", 0)
        with self._locked():  # a consistent snapshot of file, witness, tree and heads
            data = self.path.read_bytes() if self.path.exists() else b""
            try:
                head = self._read_head()
                heads = self.sth_log.heads()
                levels = self.tree.levels()
            except LedgerError as exc:
                return VerifyReport(False, 0, None, str(exc), 0)
        key_path = public_key_path or self.home.public_key_path
        try:
            report = verify_bytes(data, head, key_path)
        except LedgerError as exc:
            return VerifyReport(False, 0, None, str(exc), 0)
        if not report.ok:
            return report
        if report.n_events == 0:
            return replace(report, ok=False, first_bad_seq=1, reason=(
                "the ledger is empty or missing, but every deployment records at least one "
                "event (deleted?)"))
        lines = data.split(b"\n")[: report.n_events]
        return check_transparency(report, lines, levels, heads, key_path)

    # -- internals -----------------------------------------------------------------------

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.home.ensure()
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    @contextmanager
    def _synced(self) -> Iterator[int]:
        """Hold the lock with the tree caught up with the ledger; yield the ledger's size."""
        with self._locked(), open(self.path, "a+b") as fh:
            last = self._prepare_tail(fh)
            self._sync_tree(last)
            yield last["seq"] if last else 0

    def _default_size(self, requested: int | None, size: int) -> int:
        if requested is None:
            head = self.sth_log.latest()
            return head.tree_size if head is not None and head.tree_size <= size else size
        if not 1 <= requested <= size:
            raise LedgerRangeError(f"the log has {size} events, not {requested}")
        return requested

    def _inclusion(self, seq: int, tree_size: int) -> dict[str, Any]:
        return {
            "seq": seq,
            "leaf_index": seq - 1,
            "tree_size": tree_size,
            "leaf_hash": self.tree.leaf(seq - 1).hex(),
            "root_hash": self.tree.root(tree_size).hex(),
            "audit_path": [h.hex() for h in self.tree.inclusion(seq - 1, tree_size)],
        }

    def _sync_tree(self, last: dict[str, Any] | None) -> None:
        """Make the stored tree hold exactly one leaf per event (after a crash or for a ledger
        older than the tree); refuse when tree, heads and ledger disagree."""
        size = last["seq"] if last else 0
        head = self.sth_log.latest()
        if head is not None and head.tree_size > size:
            raise LedgerTamperedError(
                f"the ledger has {size} events but a signed tree head covers {head.tree_size} "
                "(truncated, deleted or rolled back); refusing to append "
                "(run `faceaudit ledger verify`)")
        tree = self.tree
        stored = tree.repair() if tree.exists() else 0
        if stored > size:
            raise LedgerTamperedError(
                f"the stored Merkle tree has {stored} leaves but the ledger {size} events; "
                "refusing to append (run `faceaudit ledger verify`)")
        if stored and tree.leaf(stored - 1) != self._leaf_at(stored, last):
            raise LedgerTamperedError(
                f"the stored Merkle tree does not match event {stored}; refusing to append "
                "(run `faceaudit ledger verify`)")
        if stored < size or not tree.exists():
            tree.append(self._leaf_hashes(stored))

    def _leaf_at(self, seq: int, last: dict[str, Any] | None) -> bytes:
        """The leaf hash of event ``seq`` (the last event's without reading the file)."""
        if last is not None and last["seq"] == seq:
            return merkle.leaf_hash(canonical(last))
        for n, line in enumerate(self._lines(), start=1):
            if n == seq:
                return merkle.leaf_hash(line)
        raise LedgerError(f"the ledger has no event {seq}")

    def _lines(self) -> Iterator[bytes]:
        """Yield every complete line of the ledger, without its newline."""
        if not self.path.exists():
            return
        with open(self.path, "rb") as fh:
            for line in fh:
                if not line.endswith(b"\n"):
                    return
                yield line[:-1]

    def _leaf_hashes(self, start: int) -> Iterator[bytes]:
        """Yield the leaf hashes of the events after the first ``start``."""
        for n, line in enumerate(self._lines()):
            if n >= start:
                yield merkle.leaf_hash(line)

    def _sth_due(self, size: int) -> bool:
        head = self.sth_log.latest()
        if head is None:
            return True
        if size - head.tree_size >= self.sth_every:
            return True
        age = datetime.now(UTC) - datetime.fromisoformat(head.timestamp)
        return size > head.tree_size and age.total_seconds() >= self.sth_seconds

    def _sign_head(self, key: Any, size: int) -> SignedTreeHead:
        self._check_key_is_the_deployments(key)
        head = make_sth(key, size, self.tree.root(size))
        self.sth_log.append(head)
        return head

    def _ensure_own_key(self) -> None:
        """Give a new deployment its own signing key, unless it already has a public key."""
        if self.configured_key is None and not self.home.public_key_path.exists():
            generate_keypair(self.home.signing_key_path, self.home.public_key_path)

    def _check_key_is_the_deployments(self, key: Any) -> None:
        public_path = self.home.public_key_path
        if not public_path.exists():
            raise LedgerError(
                f"no public key at {public_path}; create the key pair with "
                "`faceaudit ledger keygen`"
            )
        if fingerprint(load_public_key(public_path)) != fingerprint(key.public_key()):
            raise LedgerError("the signing key does not match the deployment's public key")

    def _read_head(self) -> Head | None:
        try:
            raw = self.head_path.read_bytes()
        except FileNotFoundError:
            return None
        return parse_head(raw)

    def _prepare_tail(self, fh: IO[bytes]) -> dict[str, Any] | None:
        """Return the last event after checking it against the head witness (and catching
        the witness up when the previous appender stopped right before updating it).

        A final line without newline is an append that was interrupted before it was
        acknowledged; it is moved to ``ledger.torn`` and cut off — but only when the complete
        part still agrees with the head witness, so a tampered file is never "repaired".
        """
        size = fh.seek(0, os.SEEK_END)
        end = _last_newline(fh)
        last = None
        if end is not None:
            last = _parse_line(next(_reverse_lines(fh, end)), None)
        head = self._read_head()
        if not head_consistent(head, last):
            raise LedgerTamperedError(
                "the ledger does not match its head witness; refusing to append "
                "(run `faceaudit ledger verify`)"
            )
        if last is not None and (head is None or head.seq != last["seq"]):
            # the previous appender stopped before updating the witness: catch it up first,
            # so that at most one event is ever unwitnessed
            self._write_head(Head(last["seq"], last["hash"]))
        cut = 0 if end is None else end + 1
        if size > cut:
            fh.seek(cut)
            fragment = fh.read()
            with open(self.torn_path, "ab") as torn:
                torn.write(canonical({"offset": cut, "bytes": fragment.hex()}) + b"\n")
                torn.flush()
                os.fsync(torn.fileno())
            fh.truncate(cut)
        return last

    def _write(
        self, fh: IO[bytes], last: dict[str, Any] | None, fields: dict[str, Any]
    ) -> dict[str, Any]:
        event = {
            "seq": (last["seq"] if last else 0) + 1,
            "time": datetime.now(UTC).isoformat(timespec="microseconds"),
            **fields,
            "prev_hash": last["hash"] if last else GENESIS_HASH,
        }
        event["hash"] = event_hash(event)
        fh.write(canonical(event) + b"\n")
        fh.flush()
        os.fsync(fh.fileno())
        self._write_head(Head(event["seq"], event["hash"]))
        self.tree.append([merkle.leaf_hash(canonical(event))])
        return event

    def _write_head(self, head: Head) -> None:
        """Overwrite the fixed-size head record in place and flush it to disk."""
        fd = os.open(self.head_path, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            os.pwrite(fd, head_bytes(head), 0)
            os.fdatasync(fd)
        finally:
            os.close(fd)


def _env_number(name: str, default: Any, kind: type) -> Any:
    text = os.environ.get(name)
    if not text:
        return default
    try:
        return kind(text)
    except ValueError:
        raise LedgerError(f"{name} must be a number, not {text!r}") from None


def _utc(when: datetime | None) -> datetime | None:
    if when is None or when.tzinfo is not None:
        return when
    return when.replace(tzinfo=UTC)


def _parse_line(line: bytes, position: int | None) -> dict[str, Any]:
    try:
        return parse_event(line)
    except LedgerError as exc:
        where = f"line {position}" if position else "the last line"
        raise LedgerTamperedError(f"ledger {where}: {exc}; run `faceaudit ledger verify`") from None


def _load_line(line: bytes) -> dict[str, Any]:
    try:
        event = json.loads(line)
        datetime.fromisoformat(event["time"])
    except (ValueError, TypeError, KeyError):
        raise LedgerTamperedError(
            "ledger line is not an event; run `faceaudit ledger verify`") from None
    return event


def _last_newline(fh: IO[bytes]) -> int | None:
    """Return the offset of the file's last newline, or None when it has none."""
    pos = fh.seek(0, os.SEEK_END)
    while pos > 0:
        step = min(_CHUNK, pos)
        pos -= step
        fh.seek(pos)
        index = fh.read(step).rfind(b"\n")
        if index != -1:
            return pos + index
    return None


def _reverse_lines(fh: IO[bytes], end: int) -> Iterator[bytes]:
    """Yield the lines of ``file[:end]`` (``end`` = offset of a newline), last first."""
    pos, buf = end, b""
    while pos > 0:
        step = min(_CHUNK, pos)
        pos -= step
        fh.seek(pos)
        parts = (fh.read(step) + buf).split(b"\n")
        buf = parts[0]
        yield from reversed(parts[1:])
    yield buf
