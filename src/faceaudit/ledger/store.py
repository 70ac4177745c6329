"""The append-only, hash-chained ledger file of one deployment (see docs/ledger.md)."""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from faceaudit.home import Home
from faceaudit.ledger.canonical import GENESIS_HASH, canonical, event_hash
from faceaudit.ledger.errors import LedgerError, LedgerEventError
from faceaudit.ledger.payload import check_number, check_result, check_text
from faceaudit.ledger.signing import (
    SIGNING_KEY_ENV,
    checkpoint_message,
    fingerprint,
    load_private_key,
    load_public_key,
    sign,
)
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


class Ledger:
    """The ledger at ``home.ledger_path``, created on the first append.

    Appends from several processes are serialised with an exclusive ``flock`` on
    ``ledger.lock``; each one is fsynced, then the head witness ``ledger.head`` is replaced.
    ``signing_key`` (default ``$FACEAUDIT_SIGNING_KEY``) enables a signed checkpoint after every
    ``checkpoint_every``-th event.
    """

    def __init__(
        self, home: Home, *, signing_key: Path | None = None, checkpoint_every: int = 100
    ) -> None:
        self.home = home
        env_key = os.environ.get(SIGNING_KEY_ENV)
        self.signing_key = signing_key or (Path(env_key) if env_key else None)
        if checkpoint_every < 1:
            raise ValueError("checkpoint_every must be >= 1")
        self.checkpoint_every = checkpoint_every

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
        key = load_private_key(self.signing_key) if self.signing_key else None
        self.home.ensure()
        with self._locked(), open(self.path, "a+b") as fh:
            last = self._prepare_tail(fh)
            event = self._write(fh, last, fields)
            if key is not None and event["seq"] % self.checkpoint_every == 0:
                self._write_checkpoint(fh, event, key, actor="faceaudit")
        return event

    def checkpoint(self, private_key_path: Path, *, actor: str = "faceaudit") -> dict[str, Any]:
        """Append a checkpoint event signing the current chain head with an Ed25519 key.

        The key's public half must be the deployment's (``home.public_key_path``, written by
        ``faceaudit ledger keygen``).
        """
        check_text("actor", actor, required=True)
        key = load_private_key(private_key_path)
        self.home.ensure()
        with self._locked(), open(self.path, "a+b") as fh:
            last = self._prepare_tail(fh)
            return self._write_checkpoint(fh, last, key, actor=actor)

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
        """Check the whole ledger: canonical bytes, hash chain, sequence, head witness, and
        every signed checkpoint against ``public_key_path`` (default: the home's public key).
        """
        if not self.home.root.is_dir():
            return VerifyReport(True, 0, None, None, 0)
        with self._locked():  # a consistent snapshot of file and witness
            data = self.path.read_bytes() if self.path.exists() else b""
            try:
                head = self._read_head()
            except LedgerError as exc:
                return VerifyReport(False, 0, None, str(exc), 0)
        try:
            return verify_bytes(data, head, public_key_path or self.home.public_key_path)
        except LedgerError as exc:
            return VerifyReport(False, 0, None, str(exc), 0)

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
            raise LedgerError(
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
        return event

    def _write_checkpoint(
        self, fh: IO[bytes], last: dict[str, Any] | None, key: Any, *, actor: str
    ) -> dict[str, Any]:
        public_path = self.home.public_key_path
        if not public_path.exists():
            raise LedgerError(
                f"no public key at {public_path}; create the key pair with "
                "`faceaudit ledger keygen`"
            )
        if fingerprint(load_public_key(public_path)) != fingerprint(key.public_key()):
            raise LedgerError("the signing key does not match the deployment's public key")
        seq, head_hash = (last["seq"], last["hash"]) if last else (0, GENESIS_HASH)
        result = {
            "covers_seq": seq,
            "covers_hash": head_hash,
            "key_id": fingerprint(key.public_key()),
            "signature": sign(key, checkpoint_message(seq, head_hash)),
        }
        fields = {
            "actor": actor,
            "action": "checkpoint",
            "purpose": None,
            "case": None,
            "legal_basis": None,
            "backend_id": None,
            "threshold": None,
            "result": result,
        }
        return self._write(fh, last, fields)

    def _write_head(self, head: Head) -> None:
        """Overwrite the fixed-size head record in place and flush it to disk."""
        fd = os.open(self.head_path, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            os.pwrite(fd, head_bytes(head), 0)
            os.fdatasync(fd)
        finally:
            os.close(fd)


def _utc(when: datetime | None) -> datetime | None:
    if when is None or when.tzinfo is not None:
        return when
    return when.replace(tzinfo=UTC)


def _parse_line(line: bytes, position: int | None) -> dict[str, Any]:
    try:
        return parse_event(line)
    except LedgerError as exc:
        where = f"line {position}" if position else "the last line"
        raise LedgerError(f"ledger {where}: {exc}; run `faceaudit ledger verify`") from None


def _load_line(line: bytes) -> dict[str, Any]:
    try:
        event = json.loads(line)
        datetime.fromisoformat(event["time"])
    except (ValueError, TypeError, KeyError):
        raise LedgerError("ledger line is not an event; run `faceaudit ledger verify`") from None
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
