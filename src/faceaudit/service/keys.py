"""API keys: random bearer tokens stored only as SHA-256 hashes, each with a role and an actor.

A token is ``fa_`` + 43 url-safe base64 characters (32 random bytes); it is shown once, at
creation. The store (SQLite at ``home.keys_path``) keeps the key id, the token's SHA-256, the
role, the actor (the name written into every ledger event made with the key), and the creation
and revocation times.

Creating and revoking a key changes who may act, so each is a ledger event (``key_create``,
``key_revoke``: key id, role, the key's actor and a commitment to the token hash — never the
token or its hash), appended *before* the key store changes; a ledger that refuses the event
leaves the keys as they were, and a store write that fails after it is followed by an
``aborted`` event. The store is bound to the record (:mod:`faceaudit.service.key_record`): a
key's role and revocation are read from the ledger, and a row that disagrees with it refuses
authentication (:class:`~faceaudit.service.errors.KeyStoreTamperedError`).
"""

from __future__ import annotations

import builtins
import hashlib
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from enum import StrEnum

from faceaudit.base.home import Home
from faceaudit.ledger import Ledger
from faceaudit.ledger.payload import MAX_TEXT
from faceaudit.service.errors import KeyStoreError, KeyStoreTamperedError
from faceaudit.service.key_record import (
    KeyRecord,
    RecordedKey,
    revocation_gap,
    row_problem,
    token_commitment,
)

TOKEN_PREFIX = "fa_"


class Role(StrEnum):
    """What a key may do; see the role matrix in ``docs/api.md``."""

    ADMIN = "admin"
    ENROLLER = "enroller"
    OPERATOR = "operator"
    REVIEWER = "reviewer"
    AUDITOR = "auditor"


@dataclass(frozen=True)
class ApiKey:
    """One stored key (never the token itself)."""

    key_id: str
    role: Role
    actor: str
    created_at: str
    revoked_at: str | None

    def to_dict(self) -> dict:
        """Return the key as a JSON-ready dict."""
        data = asdict(self)
        data["role"] = str(self.role)
        return data


_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    key_id TEXT PRIMARY KEY,
    token_sha256 TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    actor TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT
)
"""


def hash_token(token: str) -> str:
    """Return the hex SHA-256 of a token (what the store keeps)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def parse_role(role: str) -> Role:
    """Return ``role`` as a :class:`Role`, or raise :class:`KeyStoreError` naming the choices."""
    try:
        return Role(role)
    except ValueError:
        choices = ", ".join(r.value for r in Role)
        raise KeyStoreError(f"unknown role {role!r}; choose one of {choices}") from None


class KeyStore:
    """The hashed API keys of one deployment home."""

    def __init__(self, home: Home) -> None:
        self.path = home.keys_path
        home.require()
        self.ledger = Ledger(home)
        self.record = KeyRecord(self.ledger)
        with self._connect() as db:
            db.execute(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA busy_timeout=30000")
            yield db
        finally:
            db.close()

    def create(self, role: str, actor: str, *, by: str = "faceaudit") -> tuple[ApiKey, str]:
        """Create a key; return it with its token (the only time the token is available).

        ``by`` is who creates it (the ``key_create`` event's actor).
        """
        parsed = parse_role(role)
        actor = actor.strip()
        if not actor:
            raise KeyStoreError("actor must not be empty")
        _check_name("actor", actor)
        _check_name("by", by)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        key = ApiKey(
            key_id=secrets.token_hex(6),
            role=parsed,
            actor=actor,
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            revoked_at=None,
        )
        described = {"key_id": key.key_id, "role": str(key.role), "key_actor": key.actor}
        self.ledger.append(by, "key_create", result={
            **described, "token_commitment": token_commitment(hash_token(token))})
        try:
            with self._connect() as db:
                db.execute(
                    "INSERT INTO api_keys VALUES (?, ?, ?, ?, ?, NULL)",
                    (key.key_id, hash_token(token), str(key.role), key.actor, key.created_at),
                )
        except BaseException as exc:
            self._aborted(by, "key_create", described, exc)
            raise
        return key, token

    def _aborted(self, by: str, operation: str, described: dict, exc: BaseException) -> None:
        try:
            self.ledger.append(by, "aborted", result={
                **described, "operation": operation, "reason": type(exc).__name__})
        except Exception:  # noqa: BLE001 - the original error is the one to report
            pass

    def revoke(self, key_id: str, *, by: str = "faceaudit") -> ApiKey:
        """Revoke a key by id (idempotent: a revoked key is returned as it is); raise
        :class:`KeyStoreError` if unknown. ``by`` is who revokes it (the event's actor)."""
        _check_name("by", by)
        existing = self._get(key_id)
        if existing.revoked_at is not None:
            return existing
        described = {"key_id": key_id, "role": str(existing.role),
                     "key_actor": existing.actor}
        self.ledger.append(by, "key_revoke", result=described)
        now = datetime.now(UTC).isoformat(timespec="seconds")
        try:
            with self._connect() as db:
                db.execute(
                    "UPDATE api_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL",
                    (now, key_id),
                )
        except BaseException as exc:
            self._aborted(by, "key_revoke", described, exc)
            raise
        return self._get(key_id)

    def _get(self, key_id: str) -> ApiKey:
        with self._connect() as db:
            row = db.execute(
                "SELECT key_id, role, actor, created_at, revoked_at FROM api_keys WHERE key_id = ?",
                (key_id,),
            ).fetchone()
        if row is None:
            raise KeyStoreError(f"no key with id {key_id!r}")
        return _row_to_key(row)

    def list(self) -> list[ApiKey]:
        """Return every key, active and revoked, oldest first — with the role, actor and
        revocation the ledger records (a row that disagrees raises
        :class:`KeyStoreTamperedError`; :meth:`check` lists every disagreement)."""
        recorded = self.record.current()
        keys = []
        for row in self._rows():
            problem = row_problem(row, recorded.get(row[0]))
            if problem is not None:
                raise _tampered(row[0], problem)
            keys.append(_recorded_key(row, recorded[row[0]]))
        return keys

    def check(self) -> builtins.list[str]:
        """Every row of the key store that disagrees with the ledger, as one line each
        (``keys.db api_keys key_id=…: why``); empty when the store agrees with the record."""
        recorded = self.record.current()
        return [f"keys.db table api_keys, row key_id={row[0]}: {problem}" for row in self._rows()
                if (problem := row_problem(row, recorded.get(row[0]))
                    or revocation_gap(row, recorded.get(row[0]))) is not None]

    def _rows(self) -> builtins.list[tuple]:
        with self._connect() as db:
            return db.execute(
                "SELECT key_id, role, actor, created_at, revoked_at, token_sha256 FROM api_keys "
                "ORDER BY created_at, key_id"
            ).fetchall()

    def authenticate(self, token: str) -> ApiKey | None:
        """Return the active key for ``token`` — its role and revocation as the ledger records
        them — or None when it is unknown or revoked. A store row that disagrees with the
        record raises :class:`KeyStoreTamperedError` (503), naming the row."""
        if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        with self._connect() as db:
            row = db.execute(
                "SELECT key_id, role, actor, created_at, revoked_at, token_sha256 FROM api_keys "
                "WHERE token_sha256 = ?",
                (hash_token(token),),
            ).fetchone()
        if row is None:
            return None
        recorded = self.record.current().get(row[0])
        problem = row_problem(row, recorded)
        if problem is not None:
            raise _tampered(row[0], problem)
        assert recorded is not None
        return None if recorded.revoked else _recorded_key(row, recorded)


def _tampered(key_id: str, problem: str) -> KeyStoreTamperedError:
    return KeyStoreTamperedError(
        f"keys.db table api_keys, row key_id={key_id}: {problem}; the key store no longer "
        "agrees with the ledger — restore keys.db from a backup that does (docs/api.md)",
        table="api_keys", row=key_id)


def _recorded_key(row: tuple, recorded: RecordedKey) -> ApiKey:
    """The key of a store row, with the role, actor and revocation the record holds."""
    return ApiKey(key_id=row[0], role=Role(recorded.role), actor=recorded.actor,
                  created_at=row[3], revoked_at=row[4] or recorded.revoked_at)


def _check_name(name: str, value: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise KeyStoreError(f"{name} must not be empty")
    if len(value) > MAX_TEXT:
        raise KeyStoreError(f"{name} is longer than {MAX_TEXT} characters")


def _row_to_key(row: tuple) -> ApiKey:
    return ApiKey(key_id=row[0], role=Role(row[1]), actor=row[2], created_at=row[3],
                  revoked_at=row[4])
