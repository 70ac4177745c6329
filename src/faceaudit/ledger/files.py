"""The ledger's storage in the deployment home: a JSON-lines file, its head witness, the stored
Merkle tree and the signed tree heads (the default, embedded backend of :class:`Ledger`).

Appenders are serialised with an exclusive ``flock`` on ``ledger.lock``; every write is fsynced.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from faceaudit.base.home import Home
from faceaudit.ledger.canonical import canonical
from faceaudit.ledger.sth import SthLog
from faceaudit.ledger.tree import StoredTree
from faceaudit.ledger.verify import Head, head_bytes, parse_head

_CHUNK = 65536


class FileEventLog:
    """The ledger files of ``home`` (``ledger.jsonl``, ``.head``, ``.tree/``, ``.sth.jsonl``)."""

    def __init__(self, home: Home) -> None:
        self.home = home
        self._held = threading.local()

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

    @property
    def pending_path(self) -> Path:
        """The in-flight append: its event lines, written before its signed head (see
        :meth:`faceaudit.ledger.store.Ledger.append_many`)."""
        return self.path.with_suffix(".pending")

    @property
    def tree(self) -> StoredTree:
        """The stored Merkle tree over the ledger's events."""
        return StoredTree(self.path.with_suffix(".tree"))

    @property
    def sth_log(self) -> SthLog:
        """The signed tree heads the deployment made."""
        return SthLog(self.path.with_suffix(".sth.jsonl"))

    def describe(self) -> str:
        """Where the ledger lives, for messages."""
        return str(self.path)

    def exists(self) -> bool:
        """Whether the ledger holds anything yet."""
        return self.path.exists()

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the exclusive append lock (across processes) with the file open for appending."""
        self.home.ensure()
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            self._held.locked, self._held.fh = True, None
            try:
                yield
            finally:
                if self._held.fh is not None:
                    self._held.fh.close()
                self._held.locked, self._held.fh = False, None
        finally:
            os.close(fd)

    def _fh(self) -> IO[bytes]:
        """The ledger file open for appending (opened on first use under the lock, so that a
        read such as ``verify`` never creates it)."""
        if not getattr(self._held, "locked", False):
            raise RuntimeError("the ledger lock is not held")
        if self._held.fh is None:
            self._held.fh = open(self.path, "a+b")  # noqa: SIM115 - closed when the lock ends
        return self._held.fh

    def tail(self) -> tuple[bytes | None, bytes]:
        """(the last complete line or None, the bytes of an interrupted append after it);
        under the lock."""
        fh = self._fh()
        size = fh.seek(0, os.SEEK_END)
        end = _last_newline(fh)
        last = next(_reverse_lines(fh, end)) if end is not None else None
        cut = 0 if end is None else end + 1
        fragment = b""
        if size > cut:
            fh.seek(cut)
            fragment = fh.read()
        return last, fragment

    def set_aside_torn(self, fragment: bytes) -> None:
        """Move an interrupted append's bytes to ``ledger.torn`` and cut them off the ledger."""
        fh = self._fh()
        cut = fh.seek(0, os.SEEK_END) - len(fragment)
        with open(self.torn_path, "ab") as torn:
            torn.write(canonical({"offset": cut, "bytes": fragment.hex()}) + b"\n")
            torn.flush()
            os.fsync(torn.fileno())
        fh.truncate(cut)

    def append_line(self, line: bytes) -> None:
        """Append one event line and flush it to disk (under the lock)."""
        fh = self._fh()
        fh.write(line + b"\n")
        fh.flush()
        os.fsync(fh.fileno())

    def append_lines(self, lines: list[bytes]) -> None:
        """Append event lines and flush them to disk once (under the lock)."""
        fh = self._fh()
        fh.write(b"".join(line + b"\n" for line in lines))
        fh.flush()
        os.fsync(fh.fileno())

    def write_pending(self, lines: list[bytes]) -> None:
        """Durably record the lines of the append in flight (under the lock)."""
        fd = os.open(self.pending_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, b"".join(line + b"\n" for line in lines))
            os.fsync(fd)
        finally:
            os.close(fd)

    def read_pending(self) -> list[bytes]:
        """The complete lines of the append in flight (none when there is none)."""
        try:
            data = self.pending_path.read_bytes()
        except FileNotFoundError:
            return []
        return data.split(b"\n")[:-1]

    def clear_pending(self) -> None:
        """Forget the append in flight: it is written, or it was never signed."""
        self.pending_path.unlink(missing_ok=True)

    def read_head(self) -> Head | None:
        """The head witness, or None when there is none."""
        try:
            raw = self.head_path.read_bytes()
        except FileNotFoundError:
            return None
        return parse_head(raw)

    def write_head(self, head: Head) -> None:
        """Overwrite the fixed-size head record in place and flush it to disk."""
        fd = os.open(self.head_path, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            os.pwrite(fd, head_bytes(head), 0)
            os.fdatasync(fd)
        finally:
            os.close(fd)

    def snapshot(self) -> bytes:
        """The ledger's bytes as stored (complete lines and any torn tail)."""
        return self.path.read_bytes() if self.path.exists() else b""

    def lines(self) -> Iterator[bytes]:
        """Every complete line in order, without its newline (a torn final line is not)."""
        if not self.path.exists():
            return
        with open(self.path, "rb") as fh:
            for line in fh:
                if not line.endswith(b"\n"):
                    return
                yield line[:-1]

    def lines_backwards(self) -> Iterator[bytes]:
        """Every complete line, newest first (cost: the lines read, not the file)."""
        if not self.path.exists():
            return
        with open(self.path, "rb") as fh:
            end = _last_newline(fh)
            if end is None:
                return
            yield from _reverse_lines(fh, end)


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
