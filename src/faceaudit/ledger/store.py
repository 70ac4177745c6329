"""The append-only, hash-chained ledger file of one deployment (see docs/ledger.md)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, Unpack, overload

from faceaudit.base.home import Home
from faceaudit.ledger import merkle
from faceaudit.ledger.canonical import GENESIS_HASH, canonical, event_hash
from faceaudit.ledger.errors import (
    LedgerError,
    LedgerRangeError,
    LedgerTamperedError,
)
from faceaudit.ledger.files import FileEventLog
from faceaudit.ledger.schema import EventOptions, check_fields, event
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
    Head,
    VerifyReport,
    head_consistent,
    parse_event,
    verify_bytes,
)

STH_EVERY_ENV = "FACEAUDIT_STH_EVERY"
STH_SECONDS_ENV = "FACEAUDIT_STH_SECONDS"
DEFAULT_STH_EVERY = 100
DEFAULT_STH_SECONDS = 3600.0


class EventLog(Protocol):
    """Where a ledger keeps its lines, head witness, Merkle tree and signed tree heads:
    :class:`~faceaudit.ledger.files.FileEventLog` (the home's files, the default) or
    :class:`~faceaudit.ledger.postgres.PgEventLog` (PostgreSQL)."""

    @property
    def tree(self) -> StoredTree:
        """The stored Merkle tree."""
        ...

    @property
    def sth_log(self) -> SthLog:
        """The signed tree heads."""
        ...

    def describe(self) -> str:
        """Where the ledger lives, for messages."""
        ...

    def exists(self) -> bool:
        """Whether the ledger holds anything yet."""
        ...

    def locked(self) -> Any:
        """A context holding the exclusive append lock across processes (and hosts)."""
        ...

    def tail(self) -> tuple[bytes | None, bytes]:
        """(last complete line or None, bytes of an interrupted append); under the lock."""
        ...

    def set_aside_torn(self, fragment: bytes) -> None:
        """Keep an interrupted append's bytes aside and cut them off; under the lock."""
        ...

    def append_line(self, line: bytes) -> None:
        """Durably append one event line; under the lock."""
        ...

    def read_head(self) -> Head | None:
        """The head witness, or None."""
        ...

    def write_head(self, head: Head) -> None:
        """Durably replace the head witness; under the lock."""
        ...

    def snapshot(self) -> bytes:
        """The ledger's bytes: every line followed by a newline (and any torn tail)."""
        ...

    def lines(self) -> Iterator[bytes]:
        """Every complete line in order, without its newline."""
        ...

    def lines_backwards(self) -> Iterator[bytes]:
        """Every complete line, newest first."""
        ...


def open_event_log(home: Home) -> EventLog:
    """The storage of ``home``'s ledger: PostgreSQL when a database URL is in force
    (:meth:`Home.database_url_in_force`), else the home's files."""
    url = home.database_url_in_force()
    if url:
        from faceaudit.ledger.postgres import PgEventLog

        return PgEventLog(url)
    return FileEventLog(home)


class Ledger:
    """The ledger of ``home``, created on the first append: the home's files (``ledger.jsonl``)
    or, when a database URL is in force, PostgreSQL's ``events`` table (see
    :func:`open_event_log`); the same chain, witness, tree and heads either way.

    Appends from several processes (and, on PostgreSQL, hosts) are serialised by the storage's
    lock; each one is made durable, then the head witness is replaced and the event's leaf is
    added to the stored Merkle tree. A signed tree head is made automatically when
    ``sth_every`` events or ``sth_seconds``
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
        self.log = open_event_log(home)
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
        return self.log.tree

    @property
    def sth_log(self) -> SthLog:
        """The signed tree heads the deployment made."""
        return self.log.sth_log

    @property
    def path(self) -> Path:
        """The JSON-lines ledger file (of the file backend)."""
        return FileEventLog(self.home).path

    @property
    def head_path(self) -> Path:
        """The head witness file (of the file backend)."""
        return FileEventLog(self.home).head_path

    @property
    def torn_path(self) -> Path:
        """Where the file backend keeps the bytes of interrupted appends it removed."""
        return FileEventLog(self.home).torn_path

    def append(self, actor: str, action: str, **options: Unpack[EventOptions]) -> dict[str, Any]:
        """Append one event and return it as stored (with ``seq``, ``time``, ``hash``…); the
        optional fields are :class:`~faceaudit.ledger.schema.EventOptions`' (None when not given).

        Raises :class:`LedgerEventError` for an unknown action or a result that is not counts
        and ids, and :class:`LedgerError` when the file disagrees with its head witness.
        """
        fields = check_fields(event(actor, action, **options))
        self.home.ensure()
        with self._locked():
            last = self._prepare_tail()
            self._sync_tree(last)
            if last is None:
                self._ensure_own_key()
            key = load_private_key(self.signing_key) if self.signing_key else None
            if key is not None:  # a key that cannot sign stops the append before it is made
                self._check_key_is_the_deployments(key)
            stored = self._write(last, fields)
            if key is not None and self._sth_due(stored["seq"]):
                self._sign_head(key, stored["seq"])
        return stored

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
        with self._locked():
            last = self._prepare_tail()
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
        with self._locked():
            last = self._prepare_tail()
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
        with self._locked():
            last = self._prepare_tail()
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
        for n, line in enumerate(self.log.lines(), start=1):
            event = _parse_line(line, n)
            when = datetime.fromisoformat(event["time"])
            if (start is None or when >= start) and (end is None or when < end):
                yield event

    def recent(self, since: datetime) -> Iterator[dict[str, Any]]:
        """Yield events newest first, stopping at the first one older than ``since``.

        Reads the file backwards, so its cost is the size of the window, not of the ledger;
        lines are parsed but not hash-checked (that is :meth:`verify`'s job).
        """
        since = _utc(since)
        for line in self.log.lines_backwards():
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
            data = self.log.snapshot()
            try:
                head = self.log.read_head()
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

    def _locked(self) -> Any:
        return self.log.locked()

    @contextmanager
    def _synced(self) -> Iterator[int]:
        """Hold the lock with the tree caught up with the ledger; yield the ledger's size."""
        with self._locked():
            last = self._prepare_tail()
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
        return self.log.lines()

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

    def _prepare_tail(self) -> dict[str, Any] | None:
        """Return the last event after checking it against the head witness (and catching
        the witness up when the previous appender stopped right before updating it).

        A final line without newline (file backend) is an append that was interrupted before
        it was acknowledged; it is set aside (``ledger.torn``) and cut off — but only when the
        complete part still agrees with the head witness, so a tampered file is never
        "repaired".
        """
        line, fragment = self.log.tail()
        last = _parse_line(line, None) if line is not None else None
        head = self.log.read_head()
        if not head_consistent(head, last):
            raise LedgerTamperedError(
                "the ledger does not match its head witness; refusing to append "
                "(run `faceaudit ledger verify`)"
            )
        if last is not None and (head is None or head.seq != last["seq"]):
            # the previous appender stopped before updating the witness: catch it up first,
            # so that at most one event is ever unwitnessed
            self.log.write_head(Head(last["seq"], last["hash"]))
        if fragment:
            self.log.set_aside_torn(fragment)
        return last

    def _write(self, last: dict[str, Any] | None, fields: dict[str, Any]) -> dict[str, Any]:
        event = {
            "seq": (last["seq"] if last else 0) + 1,
            "time": datetime.now(UTC).isoformat(timespec="microseconds"),
            **fields,
            "prev_hash": last["hash"] if last else GENESIS_HASH,
        }
        event["hash"] = event_hash(event)
        self.log.append_line(canonical(event))
        self.log.write_head(Head(event["seq"], event["hash"]))
        self.tree.append([merkle.leaf_hash(canonical(event))])
        return event


def _env_number(name: str, default: Any, kind: type) -> Any:
    text = os.environ.get(name)
    if not text:
        return default
    try:
        return kind(text)
    except ValueError:
        raise LedgerError(f"{name} must be a number, not {text!r}") from None


@overload
def _utc(when: datetime) -> datetime: ...


@overload
def _utc(when: None) -> None: ...


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
