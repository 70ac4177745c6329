"""The ledger's storage in PostgreSQL: the same lines, head witness, Merkle tree and signed tree
heads as the files of :mod:`faceaudit.ledger.files`, as tables, for deployments whose service
replicas share one database (``FACEAUDIT_DATABASE_URL``; docs/deploy.md).

``events`` holds one row per ledger line (``position``, the exact canonical bytes ``line``);
``ledger_head`` the head witness; ``ledger_tree`` the Merkle tree's nodes; ``ledger_sth`` the
signed tree heads. An append is one transaction that first takes a transaction-level advisory
lock (``pg_advisory_xact_lock``), so appenders on every host are serialised and a process
killed mid-append leaves nothing behind: the transaction rolls back with its connection.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from faceaudit.base.database import advisory_key, connect, database_errors, ensure_schema
from faceaudit.ledger import merkle
from faceaudit.ledger.canonical import canonical
from faceaudit.ledger.errors import LedgerError
from faceaudit.ledger.sth import SignedTreeHead, SthLog, parse_sth
from faceaudit.ledger.tree import HASH_SIZE, StoredTree
from faceaudit.ledger.verify import Head, head_bytes, parse_head

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (position bigint PRIMARY KEY, line bytea NOT NULL);
CREATE TABLE IF NOT EXISTS ledger_head (id smallint PRIMARY KEY CHECK (id = 1),
                                        record bytea NOT NULL);
CREATE TABLE IF NOT EXISTS ledger_tree (level smallint NOT NULL, idx bigint NOT NULL,
                                        hash bytea NOT NULL, PRIMARY KEY (level, idx));
CREATE TABLE IF NOT EXISTS ledger_sth (position bigint PRIMARY KEY, line bytea NOT NULL);
"""
APPEND_LOCK = advisory_key("faceaudit-ledger-append")
_BATCH = 1000


class _Connections:
    """The connection of the transaction this thread holds, or a short-lived one."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._held = threading.local()

    @property
    def held(self) -> Any:
        """The connection of the locked transaction, or None."""
        return getattr(self._held, "con", None)

    def _connection(self) -> Any:
        """This thread's connection, opened on first use (and again after a fork or a
        broken connection); kept between operations."""
        con, pid = getattr(self._held, "own", (None, None))
        if con is None or pid != os.getpid() or con.closed or con.broken:
            con = connect(self.url)
            self._held.own = (con, os.getpid())
        return con

    @contextmanager
    def use(self) -> Iterator[Any]:
        """The held connection, else this thread's in a transaction of its own."""
        ensure_schema(self.url, "ledger", SCHEMA)
        if self.held is not None:
            yield self.held
            return
        con = self._connection()
        with database_errors(), con.transaction():
            yield con

    @contextmanager
    def locked(self) -> Iterator[Any]:
        """One transaction holding the ledger's append lock (every host, every process)."""
        if self.held is not None:
            yield self.held
            return
        ensure_schema(self.url, "ledger", SCHEMA)
        con = self._connection()
        with database_errors(), con.transaction():
            con.execute("SELECT pg_advisory_xact_lock(%s)", (APPEND_LOCK,))
            self._held.con = con
            try:
                yield con
            finally:
                self._held.con = None


class PgEventLog:
    """The ledger of one deployment in the PostgreSQL database at ``url``."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._db = _Connections(url)

    @property
    def tree(self) -> PgTree:
        """The stored Merkle tree over the ledger's events."""
        return PgTree(self._db)

    @property
    def sth_log(self) -> PgSthLog:
        """The signed tree heads the deployment made."""
        return PgSthLog(self._db)

    def describe(self) -> str:
        """Where the ledger lives, for messages (never the password)."""
        return "the deployment database (events table)"

    def exists(self) -> bool:
        """Whether the ledger holds anything yet."""
        with self._db.use() as con:
            return con.execute("SELECT EXISTS (SELECT 1 FROM events)").fetchone()[0]

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the append lock: everything until the end of the block is one transaction."""
        with self._db.locked():
            yield

    def tail(self) -> tuple[bytes | None, bytes]:
        """(the last line or None, b""): a transaction never leaves a torn append behind."""
        with self._db.use() as con:
            row = con.execute(
                "SELECT line FROM events ORDER BY position DESC LIMIT 1").fetchone()
        return (bytes(row[0]) if row else None), b""

    def set_aside_torn(self, fragment: bytes) -> None:
        """Nothing to set aside: appends are transactions."""

    def append_line(self, line: bytes) -> None:
        """Append one event line (committed with the lock's transaction)."""
        with self._db.use() as con:
            con.execute(
                "INSERT INTO events(position, line) "
                "SELECT coalesce(max(position), 0) + 1, %s FROM events", (line,))

    def append_lines(self, lines: list[bytes]) -> None:
        """Append event lines (committed with the lock's transaction)."""
        with self._db.use() as con, con.cursor() as cur:
            top = cur.execute("SELECT coalesce(max(position), 0) FROM events").fetchone()[0]
            cur.executemany("INSERT INTO events(position, line) VALUES (%s, %s)",
                            [(top + n, line) for n, line in enumerate(lines, start=1)])

    def write_pending(self, lines: list[bytes]) -> None:
        """Nothing to record: the head and its events commit in one transaction."""

    def read_pending(self) -> list[bytes]:
        """No append is ever left in flight (transactions)."""
        return []

    def clear_pending(self) -> None:
        """Nothing to forget (transactions)."""

    def read_head(self) -> Head | None:
        """The head witness, or None when there is none."""
        with self._db.use() as con:
            row = con.execute("SELECT record FROM ledger_head WHERE id = 1").fetchone()
        return None if row is None else parse_head(bytes(row[0]))

    def write_head(self, head: Head) -> None:
        """Replace the head witness."""
        with self._db.use() as con:
            con.execute(
                "INSERT INTO ledger_head(id, record) VALUES (1, %s) "
                "ON CONFLICT (id) DO UPDATE SET record = excluded.record", (head_bytes(head),))

    def snapshot(self) -> bytes:
        """The ledger's bytes as the file backend would hold them: every line and a newline."""
        return b"".join(line + b"\n" for line in self.lines())

    def lines(self) -> Iterator[bytes]:
        """Every line in order, without its newline (read in batches)."""
        after = 0
        while True:
            with self._db.use() as con:
                rows = con.execute(
                    "SELECT position, line FROM events WHERE position > %s "
                    "ORDER BY position LIMIT %s", (after, _BATCH)).fetchall()
            for _, line in rows:
                yield bytes(line)
            if len(rows) < _BATCH:
                return
            after = rows[-1][0]

    def lines_backwards(self) -> Iterator[bytes]:
        """Every line, newest first, read in batches (cost: the lines read)."""
        before: int | None = None
        while True:
            with self._db.use() as con:
                rows = con.execute(
                    "SELECT position, line FROM events WHERE %s::bigint IS NULL "
                    "OR position < %s ORDER BY position DESC LIMIT %s",
                    (before, before, _BATCH)).fetchall()
            for _, line in rows:
                yield bytes(line)
            if len(rows) < _BATCH:
                return
            before = rows[-1][0]


class PgTree(StoredTree):
    """:class:`StoredTree` with its nodes in the ``ledger_tree`` table."""

    def __init__(self, db: _Connections) -> None:
        self._db = db

    def exists(self) -> bool:
        """Whether the tree holds any leaf."""
        return self.size > 0

    @property
    def size(self) -> int:
        """The number of leaves stored."""
        with self._db.use() as con:
            row = con.execute("SELECT max(idx) FROM ledger_tree WHERE level = 0").fetchone()
        return 0 if row[0] is None else int(row[0]) + 1

    def node(self, level: int, index: int) -> bytes:
        """Return the stored hash of complete subtree ``index`` at ``level``."""
        with self._db.use() as con:
            row = con.execute("SELECT hash FROM ledger_tree WHERE level = %s AND idx = %s",
                              (level, index)).fetchone()
        if row is None or len(row[0]) != HASH_SIZE:
            raise LedgerError(
                f"the stored Merkle tree lacks node {index} of level {level}; "
                "run `faceaudit ledger verify`")
        return bytes(row[0])

    def levels(self) -> list[bytes]:
        """The concatenated hashes of every level, in index order (for verification)."""
        with self._db.use() as con:
            rows = con.execute("SELECT level, hash FROM ledger_tree ORDER BY level, idx")
            out: list[bytearray] = []
            for level, digest in rows:
                while len(out) <= level:
                    out.append(bytearray())
                out[level] += bytes(digest)
        return [bytes(level) for level in out]

    def append(self, leaf_hashes: Iterable[bytes]) -> int:
        """Append leaf hashes and every parent they complete; return the new size."""
        size = self.size
        new: dict[tuple[int, int], bytes] = {}
        for leaf in leaf_hashes:
            level, index, current = 0, size, leaf
            new[(0, index)] = leaf
            while index & 1:
                left = new.get((level, index - 1)) or self.node(level, index - 1)
                current = merkle.node_hash(left, current)
                level, index = level + 1, index >> 1
                new[(level, index)] = current
            size += 1
        if new:
            with self._db.use() as con, con.cursor() as cur:
                cur.executemany(
                    "INSERT INTO ledger_tree(level, idx, hash) VALUES (%s, %s, %s)",
                    [(level, index, digest) for (level, index), digest in new.items()])
        return size

    def rebuild(self, leaf_hashes: Iterable[bytes]) -> None:
        """Replace the stored tree with the tree of ``leaf_hashes``."""
        with self._db.use() as con:
            con.execute("DELETE FROM ledger_tree")
        self.append(list(leaf_hashes))

    def truncate(self, size: int) -> None:
        """Cut the tree back to its first ``size`` leaves."""
        with self._db.use() as con:
            con.execute("DELETE FROM ledger_tree WHERE idx >= (%s::bigint >> level)", (size,))

    def repair(self) -> int:
        """Nothing to repair (appends are transactions); return the size."""
        return self.size


class PgSthLog(SthLog):
    """:class:`SthLog` with the heads in the ``ledger_sth`` table."""

    def __init__(self, db: _Connections) -> None:
        self._db = db

    def exists(self) -> bool:
        """Whether any head was stored."""
        return self.latest() is not None

    def heads(self) -> list[SignedTreeHead]:
        """Every head in order."""
        with self._db.use() as con:
            rows = con.execute("SELECT line FROM ledger_sth ORDER BY position").fetchall()
        return [_parse(bytes(line), n) for n, (line,) in enumerate(rows, start=1)]

    def latest(self) -> SignedTreeHead | None:
        """The last head, or None."""
        with self._db.use() as con:
            row = con.execute(
                "SELECT line FROM ledger_sth ORDER BY position DESC LIMIT 1").fetchone()
        return None if row is None else _parse(bytes(row[0]), None)

    def replace(self, heads: list[SignedTreeHead]) -> None:
        """Replace every head by ``heads`` (``ledger restore-heads``; in the lock's
        transaction)."""
        with self._db.use() as con, con.cursor() as cur:
            cur.execute("DELETE FROM ledger_sth")
            cur.executemany("INSERT INTO ledger_sth(position, line) VALUES (%s, %s)",
                            [(n, canonical(h.to_dict())) for n, h in enumerate(heads, start=1)])

    def append(self, head: SignedTreeHead) -> None:
        """Store ``head`` (committed with the lock's transaction)."""
        with self._db.use() as con:
            con.execute(
                "INSERT INTO ledger_sth(position, line) "
                "SELECT coalesce(max(position), 0) + 1, %s FROM ledger_sth",
                (canonical(head.to_dict()),))


def _parse(line: bytes, n: int | None) -> SignedTreeHead:
    try:
        return parse_sth(json.loads(line))
    except (ValueError, LedgerError) as exc:
        where = f"row {n}" if n else "last row"
        raise LedgerError(f"signed tree heads, {where}: {exc}") from None
