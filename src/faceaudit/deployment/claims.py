"""Claims on in-flight operations: who is still running an operation the ledger logged the
intent of, so that recovery reconciles only the operations whose process died.

:class:`FileClaims` (the default) keeps one ``flock``-ed file per operation in
``HOME/intents/``; :class:`PgClaims` (PostgreSQL deployments, whose replicas may run on several
hosts) keeps one row per operation in the ``intents`` table, held by a session-level advisory
lock on the claimant's own connection — a process that dies (or a host that goes away) loses
its connection and with it the lock, and the claim becomes recoverable.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from faceaudit.base.home import Home

Reconcile = Callable[[str, str | None, str, datetime | None], list[dict[str, Any]]]


@dataclass
class Claim:
    """A held claim; set ``resolved`` once the operation's record is complete."""

    intent_id: str
    resolved: bool = False


class Claims(Protocol):
    """Where in-flight operations are claimed."""

    def claim(self, intent_id: str, operation: str, actor: str) -> Any:
        """A context holding the claim for the operation's lifetime (kept if unresolved)."""
        ...

    def recover(self, reconcile: Reconcile) -> tuple[list[dict[str, Any]], set[str]]:
        """Reconcile every claim whose owner is gone (``reconcile(intent_id, operation, actor,
        since)``), then drop it; return the events appended and the ids of every claim seen."""
        ...


def open_claims(home: Home) -> Claims:
    """The claims of ``home``: in PostgreSQL when a database URL is in force, else files."""
    url = home.database_url_in_force()
    return PgClaims(url) if url else FileClaims(home.root / "intents")


def _info(operation: str, actor: str) -> dict[str, str]:
    return {"operation": operation, "actor": actor, "created_at": datetime.now(UTC).isoformat()}


def _parse_info(raw: bytes | str) -> tuple[str | None, str, datetime | None]:
    try:
        info = json.loads(raw or b"{}")
        since = datetime.fromisoformat(info["created_at"]) - timedelta(seconds=1)
        return info["operation"], info["actor"], since
    except (ValueError, KeyError, TypeError):
        return None, "faceaudit", None


class FileClaims:
    """One locked file per in-flight operation under ``directory``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @contextmanager
    def claim(self, intent_id: str, operation: str, actor: str) -> Iterator[Claim]:
        """Hold a locked claim file for the operation's lifetime; keep it if unresolved."""
        self.directory.mkdir(mode=0o700, exist_ok=True)
        final = self.directory / f"{intent_id}.intent"
        staging = final.with_suffix(".staging")
        fd = os.open(staging, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        claim = Claim(intent_id)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.write(fd, json.dumps({"intent_id": intent_id, **_info(operation, actor)}).encode())
            os.fsync(fd)
            os.replace(staging, final)  # visible to recovery only once locked
            yield claim
        finally:
            if claim.resolved:
                final.unlink(missing_ok=True)
            staging.unlink(missing_ok=True)
            os.close(fd)

    def recover(self, reconcile: Reconcile) -> tuple[list[dict[str, Any]], set[str]]:
        """Reconcile the claim files nobody holds a lock on."""
        appended: list[dict[str, Any]] = []
        claimed: set[str] = set()
        if self.directory.is_dir():
            for path in sorted(self.directory.glob("*.intent")):
                claimed.add(path.stem)
                appended += self._recover_one(path, reconcile)
        return appended, claimed

    @staticmethod
    def _recover_one(path: Path, reconcile: Reconcile) -> list[dict[str, Any]]:
        try:
            fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            return []  # its owner finished meanwhile
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return []  # still in flight
            operation, actor, since = _parse_info(os.pread(fd, 4096, 0))
            appended = reconcile(path.stem, operation, actor, since)
            path.unlink(missing_ok=True)
            return appended
        finally:
            os.close(fd)


class PgClaims:
    """One row per in-flight operation in the ``intents`` table, each held by an advisory lock
    on its claimant's own connection."""

    SCHEMA = "CREATE TABLE IF NOT EXISTS intents (intent_id text PRIMARY KEY, info text NOT NULL);"

    def __init__(self, url: str) -> None:
        self.url = url

    def _connect(self) -> Any:
        from faceaudit.base.database import connect, ensure_schema

        ensure_schema(self.url, "intents", self.SCHEMA)
        return connect(self.url, autocommit=True)

    @contextmanager
    def claim(self, intent_id: str, operation: str, actor: str) -> Iterator[Claim]:
        """Hold the operation's advisory lock (and its row) on a connection of its own."""
        from faceaudit.base.database import advisory_key

        con = self._connect()
        claim = Claim(intent_id)
        try:
            con.execute("SELECT pg_advisory_lock(%s)", (advisory_key(f"intent:{intent_id}"),))
            con.execute("INSERT INTO intents(intent_id, info) VALUES (%s, %s)",
                        (intent_id, json.dumps(_info(operation, actor))))
            try:
                yield claim
            finally:
                if claim.resolved:
                    con.execute("DELETE FROM intents WHERE intent_id = %s", (intent_id,))
        finally:
            con.close()  # releases the lock

    def recover(self, reconcile: Reconcile) -> tuple[list[dict[str, Any]], set[str]]:
        """Reconcile the claims whose advisory lock nobody holds (their owner is gone)."""
        from faceaudit.base.database import advisory_key

        appended: list[dict[str, Any]] = []
        con = self._connect()
        try:
            rows = con.execute("SELECT intent_id, info FROM intents ORDER BY intent_id").fetchall()
            for intent_id, info in rows:
                key = advisory_key(f"intent:{intent_id}")
                if not con.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()[0]:
                    continue  # still in flight
                try:
                    if con.execute("SELECT 1 FROM intents WHERE intent_id = %s",
                                   (intent_id,)).fetchone() is None:
                        continue  # its owner finished meanwhile
                    operation, actor, since = _parse_info(info)
                    appended += reconcile(intent_id, operation, actor, since)
                    con.execute("DELETE FROM intents WHERE intent_id = %s", (intent_id,))
                finally:
                    con.execute("SELECT pg_advisory_unlock(%s)", (key,))
        finally:
            con.close()
        return appended, {row[0] for row in rows}
