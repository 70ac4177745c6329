"""The policy in force is the one the ledger recorded: ``policy.toml`` is checked against the
SHA-256 in the last ``policy_change`` event before any operation relies on it.

A hand edit of ``policy.toml`` (or its removal) therefore no longer takes effect silently: every
operation is refused with :class:`PolicyMismatchError` until the file is installed with
``faceaudit policy set`` (which logs the change first). An install that was interrupted between
logging and replacing the file is finished here (roll forward), since the staged file's hash is
the one the ledger holds.
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from faceaudit.base.home import Home
from faceaudit.ledger.verify import parse_event
from faceaudit.policy.errors import PolicyError

_NEEDLE = b'"action":"policy_change"'
_CHUNK = 1 << 20


class PolicyMismatchError(PolicyError):
    """``policy.toml`` is not the policy the ledger recorded (edited, replaced or removed by
    hand); operations are refused until it is installed with ``faceaudit policy set``."""

    code = "policy-unrecorded"
    http_status = 409


@dataclass(frozen=True)
class _Scan:
    size: int
    found: bool
    sha256: str | None


_cache: dict[Path, _Scan] = {}
_cache_lock = threading.Lock()


def policy_digest(data: bytes) -> str:
    """Return the SHA-256 hex digest of policy file bytes (logged with policy changes)."""
    return hashlib.sha256(data).hexdigest()


def recorded_policy(home: Home) -> tuple[bool, str | None]:
    """Return ``(found, sha256)`` of the last ``policy_change`` event in ``home``'s ledger.

    Scans the raw file backwards the first time (a byte search, not a parse of every event)
    and, later in the same process, only the complete lines appended since.
    """
    if home.database_url_in_force():
        return _recorded_in_database(home)
    path = home.ledger_path
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return False, None
    with _cache_lock:
        cached = _cache.get(path)
    start = cached.size if cached is not None and cached.size <= size else 0
    found, sha, boundary = _scan(path, start, size)
    if not found and start:
        assert cached is not None  # start > 0 only when resuming from a cached scan
        found, sha = cached.found, cached.sha256
    with _cache_lock:
        _cache[path] = _Scan(boundary, found, sha)
    return found, sha


def _recorded_in_database(home: Home) -> tuple[bool, str | None]:
    """The last ``policy_change`` event of a PostgreSQL ledger: its lines read newest first,
    with the same byte search before any parse."""
    from faceaudit.ledger.store import open_event_log

    for line in open_event_log(home).lines_backwards():
        if _NEEDLE in line:
            event = parse_event(line)
            return True, (event.get("result") or {}).get("sha256")
    return False, None


def _scan(path: Path, start: int, end: int) -> tuple[bool, str | None, int]:
    """The last policy_change event among the complete lines of ``file[start:end]``, and the
    offset just after the last complete line (``start`` must be a line boundary)."""
    boundary = start
    with open(path, "rb") as fh:
        pos, buf = end, b""
        while pos > start:
            step = min(_CHUNK, pos - start)
            pos -= step
            fh.seek(pos)
            buf = fh.read(step) + buf
            if boundary == start and b"\n" in buf:
                boundary = pos + buf.rfind(b"\n") + 1
                buf = buf[: buf.rfind(b"\n") + 1]  # a torn final line is not an event
            hit = buf.rfind(_NEEDLE)
            while hit != -1:
                line_start = buf.rfind(b"\n", 0, hit) + 1
                if line_start == 0 and pos > start:
                    break  # the line began in an earlier chunk: read more
                line_end = buf.find(b"\n", hit)
                event = parse_event(buf[line_start:line_end])
                return True, (event.get("result") or {}).get("sha256"), boundary
            first = buf.find(b"\n")
            buf = buf[: first + 1] if first != -1 and hit == -1 else buf
            if boundary == start and b"\n" not in buf and pos == start:
                break
    return False, None, boundary


def check_policy_file(home: Home, data: bytes | None) -> bytes | None:
    """Return the policy bytes in force: ``data`` (the bytes of ``policy.toml``, None when
    absent) if it is what the last ``policy_change`` event recorded (no event: no file), or
    the staged file of an interrupted install that the event records (moved into place).
    Raise :class:`PolicyMismatchError` otherwise."""
    found, recorded = recorded_policy(home)
    actual = None if data is None else policy_digest(data)
    if (found and actual == recorded) or (not found and data is None):
        return data
    finished = _finish_install(home, recorded) if found else None
    if finished is not None:
        return finished
    path = home.policy_path
    if not found:
        why = f"{path} was never installed through the ledger (no policy_change event)"
    elif data is None:
        why = f"{path} was removed, but the ledger records policy {str(recorded)[:12]}…"
    else:
        why = (f"{path} (sha256 {str(actual)[:12]}…) is not the policy the ledger records "
               f"({str(recorded)[:12]}…): it was edited by hand")
    raise PolicyMismatchError(
        f"{why}; every operation is refused until it is installed with "
        "`faceaudit policy set FILE` (which logs the change)"
    )


def staged_policy_path(home: Home) -> Path:
    """Where ``policy set`` stages the new file before the ledger records it."""
    return home.policy_path.with_suffix(".toml.staged")


def _finish_install(home: Home, recorded: str | None) -> bytes | None:
    """Roll an interrupted install forward when the staged file is the recorded one; return
    its bytes (None when there is nothing to finish)."""
    staged = staged_policy_path(home)
    try:
        data = staged.read_bytes()
    except FileNotFoundError:
        return None
    if policy_digest(data) != recorded:
        return None
    os.replace(staged, home.policy_path)
    return data
