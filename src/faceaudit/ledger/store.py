"""The append-only, hash-chained ledger file of one deployment (see docs/ledger.md)."""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar, Unpack, overload

from faceaudit.base.home import Home
from faceaudit.ledger import merkle
from faceaudit.ledger.canonical import GENESIS_HASH, canonical, event_hash
from faceaudit.ledger.errors import (
    LedgerError,
    LedgerNoSignerError,
    LedgerRangeError,
    LedgerTamperedError,
)
from faceaudit.ledger.files import FileEventLog
from faceaudit.ledger.schema import EventOptions, check_fields, event
from faceaudit.ledger.signer import (
    HOW_TO_CONFIGURE,
    PKCS11_MODULE_ENV,
    Signer,
    resolve_signer,
)
from faceaudit.ledger.signing import (
    SIGNING_KEY_ENV,
    fingerprint,
    generate_keypair,
    load_public_key,
    write_public_key,
)
from faceaudit.ledger.sth import SignedTreeHead, SthLog, head_hash, make_sth
from faceaudit.ledger.transparency_verify import check_transparency
from faceaudit.ledger.tree import StoredTree
from faceaudit.ledger.verify import (
    Head,
    VerifyReport,
    head_consistent,
    parse_event,
    verify_bytes,
)

T = TypeVar("T")


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

    def append_lines(self, lines: list[bytes]) -> None:
        """Durably append event lines; under the lock."""
        ...

    def write_pending(self, lines: list[bytes]) -> None:
        """Durably record the lines of the append in flight (before its head is stored)."""
        ...

    def read_pending(self) -> list[bytes]:
        """The lines of an append a crash left in flight (none on PostgreSQL)."""
        ...

    def clear_pending(self) -> None:
        """Forget the append in flight."""
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

    Every append is covered by a signed tree head before it returns (docs/ledger.md, "No
    unsigned tail"): under the storage's lock the ledger is first checked against the newest
    signed head (fail closed: :class:`LedgerTamperedError` otherwise), the new head is signed
    over the events about to be written and stored, then the events, the head witness and the
    Merkle tree are written. The signer is :func:`~faceaudit.ledger.signer.resolve_signer`'s:
    a PKCS#11 token, ``signing_key``, ``$FACEAUDIT_SIGNING_KEY``, or the home's own key
    (``home.signing_key_path``, created with the first event of a home that has no public key);
    with none, appending is refused (:class:`LedgerNoSignerError`).

    ``sth_every`` and ``sth_seconds`` are accepted for compatibility and no longer used: there
    is a head for every append.
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
        # (events, newest head, last event's hash) this instance last verified, under the lock
        self._verified: tuple[int, SignedTreeHead, str] | None = None

    @property
    def signing_key(self) -> Path | None:
        """The private key file that signs tree heads, or None when this process has none."""
        if self.configured_key is not None:
            return self.configured_key
        own = self.home.signing_key_path
        return own if own.exists() else None

    def signer(self) -> Signer:
        """The signer of this process (:func:`~faceaudit.ledger.signer.resolve_signer`),
        raising :class:`LedgerNoSignerError` when there is none."""
        signer = resolve_signer(self.home, self.configured_key)
        if signer is None:
            raise LedgerNoSignerError(
                f"no signing key: the ledger of {self.home.root} refuses to append an event no "
                f"signed tree head would cover; {HOW_TO_CONFIGURE}")
        return signer

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
        """Append one event and return it as stored (with ``seq``, ``time``, ``hash``…) once a
        signed tree head covers it; the optional fields are
        :class:`~faceaudit.ledger.schema.EventOptions`' (None when not given).

        Raises :class:`LedgerEventError` for an unknown action or a result that is not counts
        and ids, :class:`LedgerTamperedError` when the ledger disagrees with its newest signed
        head, and :class:`LedgerNoSignerError` when this process has no signing key; then
        nothing is appended.
        """
        return self.append_many([event(actor, action, **options)])[0]

    def append_many(self, events: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """Append several events (each :func:`~faceaudit.ledger.schema.event`'s fields) under
        one lock and ONE signed tree head over them all; return them as stored.

        Nothing is written unless every event is valid and the head is signed. The head is
        stored before the events, with the events' lines kept in ``ledger.pending`` until they
        are written: a crash in between leaves a head ahead of the ledger, which the next
        append (or ``verify``) completes from ``ledger.pending`` — only when those lines are
        exactly what the head signed.
        """
        fields = [check_fields(dict(e)) for e in events]
        if not fields:
            return []
        self.home.ensure()
        with self._locked():
            last = self._ready()
            if last is None:
                self._ensure_own_key()
            signer = self.signer()
            self._check_key_is_the_deployments(signer)
            return self._write(signer, last, fields)

    def check(self) -> int:
        """Verify the ledger against its newest signed head (as every append does first),
        raising :class:`LedgerTamperedError` when it does not agree; return the event count."""
        with self._locked():
            last = self._ready()
            return last["seq"] if last else 0

    def at_rest(self, read: Callable[[], T]) -> tuple[int, T]:
        """Run ``read`` while no event can be appended (the ledger's lock held, across
        processes), after verifying the ledger as :meth:`check` does: ``(event count, what
        read returned)`` — a reading of another store that no append can fall between."""
        with self._locked():
            last = self._ready()
            return (last["seq"] if last else 0), read()

    def sign_tree_head(self, private_key_path: Path | None = None,
                       upgrade: bool = False) -> SignedTreeHead:
        """Sign and store a tree head for the ledger as it is now (``faceaudit ledger sth``),
        with ``private_key_path`` or the deployment's signer; the key's public half must be the
        home's. Only after the ledger verified against the newest head; ``upgrade`` (once, for
        a home from before every event was signed) also accepts events after a newest
        ``faceaudit-sth/1`` head, and records that it did (a ``ledger_recovery`` event)."""
        signer = (resolve_signer(self.home, private_key_path) if private_key_path
                  else None) or self.signer()
        with self._locked():
            last = self._ready(upgrade=upgrade)
            if last is None:
                raise LedgerError("the ledger has no events to sign")
            self._check_key_is_the_deployments(signer)
            newest = self.sth_log.latest()
            if upgrade and newest is not None and newest.tree_size < last["seq"]:
                self._write(signer, last, [check_fields(event(
                    "faceaudit", "ledger_recovery", result={
                        "kind": "upgrade", "unsigned_from": newest.tree_size + 1,
                        "unsigned_to": last["seq"]}))])
                latest = self.sth_log.latest()
                assert latest is not None
                return latest
            return self._sign_head(signer, last["seq"])

    def restore_heads(self, heads: Sequence[SignedTreeHead], source: str,
                      actor: str = "faceaudit") -> dict[str, Any]:
        """Restore a home whose signed tree heads are gone or broken (``faceaudit ledger
        restore-heads``) from ``heads`` (a witness's or a backup's copy, ``source`` naming it).

        The newest of them signed by the home's key must cover every event, and the whole
        ledger must verify against it; it then becomes the log's only head, and a
        ``ledger_recovery`` event, covered by a new head chained to it, records the restore.
        Returns that event. Refuses (:class:`LedgerTamperedError`) otherwise, changing nothing.
        """
        signer = self.signer()
        with self._locked():
            if self._verify_held().ok:
                raise LedgerError("the ledger verifies against its own heads: nothing to restore")
            self._check_key_is_the_deployments(signer)
            public = load_public_key(self.home.public_key_path)
            good = [h for h in heads if h.problem(public) is None]
            if not good:
                raise LedgerError(f"{source}: no head signed by the deployment's key "
                                  f"{fingerprint(public)}")
            newest = max(good, key=lambda h: h.tree_size)
            line, fragment = self.log.tail()
            if fragment:
                self.log.set_aside_torn(fragment)
            last = _parse_line(line, None) if line is not None else None
            if last is None:
                raise LedgerError("the ledger has no events: nothing to restore heads for")
            self._sync_tree(last, check_heads=False)
            report = self._verify_held(heads=[newest])
            if not report.ok:
                raise LedgerTamperedError(
                    f"{source}: the ledger does not verify against the newest head it holds "
                    f"({newest.tree_size} events): {report.summary()}")
            self.sth_log.replace([newest])
            self._verified = (last["seq"], newest, last["hash"])
            return self._write(signer, last, [check_fields(event(
                actor, "ledger_recovery", result={
                    "kind": "restore-heads", "restored_head_hash": head_hash(newest),
                    "restored_tree_size": newest.tree_size, "source": source[-200:]}))])[0]

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
        """Return the receipt of event ``seq``: the newest signed tree head (which covers every
        event) and the audit path from the event to that head's root."""
        with self._locked():
            last = self._ready()
            size = last["seq"] if last else 0
            if not 1 <= seq <= size:
                raise LedgerRangeError(f"event {seq} is not in a log of {size} events")
            head = self.sth_log.latest()
            if head is None or head.tree_size < seq:  # cannot pass _ready; kept as a guard
                head = self._sign_head(self.signer(), size)
            receipt = self._inclusion(seq, head.tree_size)
            receipt["sth"] = head.to_dict()
            return receipt

    def rebuild_tree(self) -> int:
        """Rebuild the stored Merkle tree from the ledger; return its size."""
        with self._locked():
            last = self._prepare_tail()
            self.tree.rebuild(list(self._leaf_hashes(0)))
            self._sync_tree(last, check_heads=False)
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

    def events_after(self, seq: int, upto: int) -> list[dict[str, Any]]:
        """The events ``seq < event.seq <= upto``, oldest first, read from the end of the log
        (cost: the events after ``seq``, not the ledger). Call after :meth:`check` returned
        ``upto``, so that every event returned is covered by a verified signed head."""
        found: list[dict[str, Any]] = []
        for line in self.log.lines_backwards():
            event = _load_line(line)
            if event["seq"] <= seq:
                break
            if event["seq"] <= upto:
                found.append(event)
        return found[::-1]

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
        signed checkpoint, the stored Merkle tree and every signed tree head (each chained to
        the one before, the newest covering every event), against ``public_key_path``
        (default: the home's public key). An append a crash left in flight is completed first
        when its signed head covers it (see :meth:`append_many`).

        An empty or missing ledger is not intact: every deployment records at least one event.
        """
        if not self.home.root.is_dir():
            return VerifyReport(False, 0, None, f"no deployment home at {self.home.root}", 0)
        with self._locked():  # a consistent snapshot of file, witness, tree and heads
            try:
                self._complete_in_flight()
            except LedgerError as exc:
                return VerifyReport(False, 0, None, str(exc), 0)
            return self._verify_held(public_key_path)

    # -- internals -----------------------------------------------------------------------

    def _locked(self) -> Any:
        return self.log.locked()

    def _verify_held(self, public_key_path: Path | None = None, upgrade: bool = False,
                     heads: list[SignedTreeHead] | None = None) -> VerifyReport:
        """:meth:`verify` with the lock already held (``heads``: check against these, the
        first trusted as a restored one, instead of the stored heads)."""
        data = self.log.snapshot()
        restoring = heads is not None
        try:
            head = self.log.read_head()
            heads = self.sth_log.heads() if heads is None else heads
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
        return check_transparency(report, lines, levels, heads, key_path, upgrade, restoring)

    def _ready(self, upgrade: bool = False) -> dict[str, Any] | None:
        """Under the lock: complete an append a crash left in flight, catch the witness and
        the tree up, and verify the ledger against its newest signed head (fail closed);
        return the last event."""
        self._complete_in_flight()
        last = self._prepare_tail()
        self._sync_tree(last)
        self._check_against_head(last, upgrade)
        return last

    def _check_against_head(self, last: dict[str, Any] | None, upgrade: bool = False) -> None:
        """Refuse (:class:`LedgerTamperedError`) unless the ledger verifies against its newest
        signed head. The whole ledger is verified the first time; after that only what other
        processes appended since (:meth:`_verified_since`)."""
        size = last["seq"] if last else 0
        newest = self.sth_log.latest()
        if size == 0 and newest is None:
            return  # a new home: nothing to verify yet
        if not upgrade and newest is not None and last is not None and self._verified_since(
                size, newest):
            self._verified = (size, newest, last["hash"])
            return
        report = self._verify_held(upgrade=upgrade)
        if not report.ok:
            raise LedgerTamperedError(
                f"{report.summary()}; refusing to sign or append (run `faceaudit ledger verify`)",
                which=self.log.describe())
        if newest is not None and last is not None:
            self._verified = (size, newest, last["hash"])

    def _verified_since(self, size: int, newest: SignedTreeHead) -> bool:
        """Whether the ledger of ``size`` events verifies against ``newest`` given what this
        instance verified last: the events appended since chain on and are the stored tree's
        leaves, the tree's roots are both heads' and ``newest`` is signed by the deployment's
        key and chains to the head verified (when it follows it directly). False sends the
        caller to the whole verification, which names what is wrong."""
        if self._verified is None:
            return False
        old_size, old_head, old_hash = self._verified
        if newest.tree_size != size or old_size > size:
            return False
        tree = self.tree
        if tree.root(old_size) != old_head.root or tree.root(size) != newest.root:
            return False
        if newest != old_head:
            if newest.problem(load_public_key(self.home.public_key_path)) is not None:
                return False
            if newest.prev_tree_size == old_head.tree_size and newest.follows_problem(old_head):
                return False
        new = list(itertools.islice(self.log.lines_backwards(), size - old_size))[::-1]
        prev = old_hash
        for offset, line in enumerate(new):
            try:
                parsed = parse_event(line)
            except LedgerError:
                return False
            if (parsed["seq"] != old_size + offset + 1 or parsed["prev_hash"] != prev
                    or tree.leaf(old_size + offset) != merkle.leaf_hash(line)):
                return False
            prev = parsed["hash"]
        return True

    def _complete_in_flight(self) -> None:
        """Finish an append a crash interrupted after its signed head was stored: write the
        rest of its lines from ``ledger.pending`` — only when the newest head is signed by the
        deployment's key over exactly the ledger followed by them. A pending append whose head
        was never stored was never acknowledged and is dropped."""
        pending = self.log.read_pending()
        if not pending:
            return
        line, fragment = self.log.tail()
        last = _parse_line(line, None) if line is not None else None
        size = last["seq"] if last else 0
        newest = self.sth_log.latest()
        try:
            first = parse_event(pending[0])["seq"]
        except LedgerError:
            first = None
        k = len(pending)
        if first is None or newest is None or newest.tree_size != first - 1 + k:
            self.log.clear_pending()  # its head was never stored: never acknowledged
            return
        done = size - (first - 1)
        if fragment:
            self.log.set_aside_torn(fragment)
        if done == k:  # every line written: at most the witness is behind (by this append)
            assert last is not None
            witness = self.log.read_head()
            if canonical(last) == pending[-1] and (witness is None or witness.seq == first - 1):
                self.log.write_head(Head(last["seq"], last["hash"]))
            self.log.clear_pending()
            return
        if not 0 <= done < k or (
                done and last is not None and canonical(last) != pending[done - 1]):
            raise LedgerTamperedError(
                f"the newest signed tree head covers {newest.tree_size} events but the ledger "
                f"holds {size}, which is not the append in flight (truncated?)")
        public = load_public_key(self.home.public_key_path)
        tree = self.tree
        self._sync_tree(last, check_heads=False)
        rest = pending[done:]
        root = merkle.extended_root(tree.node, size, [merkle.leaf_hash(x) for x in rest])
        events = [parse_event(x) for x in rest]
        chained = all(e["prev_hash"] == (events[i - 1]["hash"] if i else
                                         (last["hash"] if last else GENESIS_HASH))
                      and e["seq"] == size + i + 1 for i, e in enumerate(events))
        if newest.problem(public) is not None or root != newest.root or not chained:
            raise LedgerTamperedError(
                f"the newest signed tree head covers {newest.tree_size} events but the ledger "
                f"holds {size} and ledger.pending is not what it signed (truncated?)")
        self.log.append_lines(rest)
        self.log.write_head(Head(events[-1]["seq"], events[-1]["hash"]))
        tree.append([merkle.leaf_hash(x) for x in rest])
        self.log.clear_pending()

    @contextmanager
    def _synced(self) -> Iterator[int]:
        """Hold the lock with the tree caught up with the ledger; yield the ledger's size."""
        with self._locked():
            self._complete_in_flight()
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

    def _sync_tree(self, last: dict[str, Any] | None, check_heads: bool = True) -> None:
        """Make the stored tree hold exactly one leaf per event (after a crash or for a ledger
        older than the tree); refuse when tree, heads and ledger disagree."""
        size = last["seq"] if last else 0
        head = self.sth_log.latest() if check_heads else None
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

    def _sign_head(self, signer: Signer, size: int) -> SignedTreeHead:
        self._check_key_is_the_deployments(signer)
        head = make_sth(signer, size, self.tree.root(size), self.sth_log.latest())
        self.sth_log.append(head)
        if self._verified is not None and self._verified[0] == size:
            self._verified = (size, head, self._verified[2])
        return head

    def _ensure_own_key(self) -> None:
        """Give a new deployment its public key before its first event: a PKCS#11 token's
        public half when a token signs, else a new key pair of the home's own (a development
        setting: a file key in the home is not insider-proof). A file key configured outside
        the home must have had its public half written by `faceaudit ledger keygen`."""
        if self.home.public_key_path.exists():
            return
        if os.environ.get(PKCS11_MODULE_ENV):
            write_public_key(self.signer().public_key(), self.home.public_key_path)
        elif self.configured_key is None:
            generate_keypair(self.home.signing_key_path, self.home.public_key_path)

    def _check_key_is_the_deployments(self, signer: Signer) -> None:
        public_path = self.home.public_key_path
        if not public_path.exists():
            raise LedgerError(
                f"no public key at {public_path}; create the key pair with "
                "`faceaudit ledger keygen`"
            )
        if fingerprint(load_public_key(public_path)) != fingerprint(signer.public_key()):
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

    def _write(self, signer: Signer, last: dict[str, Any] | None,
               fields: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Sign the head over ``last``'s ledger followed by the new events, store it, then
        write the events (the lines kept in ``ledger.pending`` meanwhile)."""
        size = last["seq"] if last else 0
        prev_hash = last["hash"] if last else GENESIS_HASH
        stored: list[dict[str, Any]] = []
        for n, one in enumerate(fields, start=1):
            new = {"seq": size + n,
                   "time": datetime.now(UTC).isoformat(timespec="microseconds"),
                   **one, "prev_hash": prev_hash}
            new["hash"] = prev_hash = event_hash(new)
            stored.append(new)
        lines = [canonical(e) for e in stored]
        leaves = [merkle.leaf_hash(x) for x in lines]
        root = merkle.extended_root(self.tree.node, size, leaves)
        head = make_sth(signer, size + len(lines), root, self.sth_log.latest())
        self.log.write_pending(lines)
        self.sth_log.append(head)
        self.log.append_lines(lines)
        self.log.write_head(Head(stored[-1]["seq"], stored[-1]["hash"]))
        self.tree.append(leaves)
        self.log.clear_pending()
        self._verified = (size + len(lines), head, stored[-1]["hash"])
        return stored


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
