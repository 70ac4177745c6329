"""PostgreSQL connections for deployments whose gallery and ledger live in a database.

``FACEAUDIT_DATABASE_URL`` (or ``--database-url``, or ``database_url`` in the home's config)
selects it; see docs/deploy.md. psycopg (v3) is imported only when a URL is in force, so the
embedded SQLite/file deployments never load it.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from faceaudit.base.errors import FaceAuditError

_schemas_ready: set[tuple[str, str]] = set()
_schemas_lock = threading.Lock()


class DatabaseError(FaceAuditError):
    """The deployment's PostgreSQL database cannot be reached or used."""

    code = "database-unavailable"
    http_status = 503


def advisory_key(name: str) -> int:
    """A stable signed 64-bit key for ``pg_advisory_lock`` derived from ``name``."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


def connect(url: str, *, autocommit: bool = False) -> Any:
    """Open a psycopg connection to ``url``; :class:`DatabaseError` (one line) when it fails."""
    import psycopg

    try:
        return psycopg.connect(url, autocommit=autocommit)
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DatabaseError(f"cannot connect to the deployment database: {reason}") from None


@contextmanager
def database_errors() -> Iterator[None]:
    """Turn a lost or refused connection in the block into :class:`DatabaseError` (a 503, one
    CLI line) instead of a driver traceback; the block's transaction is rolled back already."""
    import psycopg

    try:
        yield
    except psycopg.OperationalError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DatabaseError(f"the deployment database failed: {reason}") from None


@contextmanager
def transaction(url: str) -> Iterator[Any]:
    """One transaction on a fresh connection: committed on success, rolled back on error."""
    con = connect(url)
    try:
        with con.transaction():
            yield con
    finally:
        con.close()


def ensure_schema(url: str, name: str, ddl: str) -> None:
    """Run ``ddl`` (idempotent ``CREATE … IF NOT EXISTS`` statements) once per process and
    database, serialised across processes by an advisory lock (concurrent ``CREATE TABLE IF
    NOT EXISTS`` can otherwise collide)."""
    key = (url, name)
    with _schemas_lock:
        if key in _schemas_ready:
            return
    with transaction(url) as con:
        con.execute("SELECT pg_advisory_xact_lock(%s)", (advisory_key("faceaudit-schema"),))
        con.execute(ddl)
    with _schemas_lock:
        _schemas_ready.add(key)
