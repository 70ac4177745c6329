import sqlite3
from pathlib import Path

import pytest

from faceaudit.ledger.genesis import init_home
from faceaudit.service.key_record import token_commitment
from faceaudit.service.keys import KeyStore, Role, hash_token
from faceaudit.service.problems import KeyStoreError


def test_created_key_authenticates_and_only_its_hash_is_stored(tmp_path: Path) -> None:
    home = init_home(tmp_path)
    store = KeyStore(home)
    key, token = store.create("operator", "alice")
    assert token.startswith("fa_") and len(token) > 40
    found = store.authenticate(token)
    assert found is not None and found.key_id == key.key_id
    assert found.role is Role.OPERATOR and found.actor == "alice"
    raw = b"".join(p.read_bytes() for p in home.root.glob("keys.db*"))
    assert token.encode() not in raw
    assert hash_token(token).encode() in raw


def test_revoked_and_unknown_keys_do_not_authenticate(tmp_path: Path) -> None:
    store = KeyStore(init_home(tmp_path))
    key, token = store.create("auditor", "bob")
    assert store.authenticate(token + "x") is None
    assert store.authenticate("not-a-key") is None
    revoked = store.revoke(key.key_id)
    assert revoked.revoked_at is not None
    assert store.authenticate(token) is None
    assert [k.key_id for k in store.list()] == [key.key_id]


def test_bad_role_actor_and_unknown_id_are_typed_errors(tmp_path: Path) -> None:
    store = KeyStore(init_home(tmp_path))
    with pytest.raises(KeyStoreError, match="unknown role"):
        store.create("root", "eve")
    with pytest.raises(KeyStoreError, match="actor"):
        store.create("admin", "  ")
    with pytest.raises(KeyStoreError, match="no key"):
        store.revoke("deadbeef")


def test_creating_and_revoking_a_key_are_ledger_events(tmp_path: Path) -> None:
    from faceaudit.ledger import Ledger

    home = init_home(tmp_path)
    store = KeyStore(home)
    key, token = store.create("operator", "alice", by="admin-ann")
    store.revoke(key.key_id, by="admin-bob")
    store.revoke(key.key_id, by="admin-bob")  # idempotent: no second event
    events = [e for e in Ledger(home).events() if e["action"] != "init"]
    assert [(e["action"], e["actor"]) for e in events] == [
        ("key_create", "admin-ann"), ("key_revoke", "admin-bob")]
    assert events[0]["result"] == {"key_id": key.key_id, "role": "operator",
                                   "key_actor": "alice",
                                   "token_commitment": token_commitment(hash_token(token))}
    raw = home.ledger_path.read_bytes()
    assert token.encode() not in raw and hash_token(token).encode() not in raw


def test_a_refusing_ledger_means_no_key_change(tmp_path: Path) -> None:
    from faceaudit.ledger import Ledger
    from faceaudit.ledger.errors import LedgerError

    home = init_home(tmp_path)
    store = KeyStore(home)
    key, token = store.create("operator", "alice")
    Ledger(home).append("x", "audit", result={})
    data = home.ledger_path.read_bytes()
    home.ledger_path.write_bytes(data.replace(b'"actor":"x"', b'"actor":"y"'))  # edit the last
    with pytest.raises(LedgerError):
        store.create("admin", "mallory")
    with pytest.raises(LedgerError):
        store.revoke(key.key_id)
    with sqlite3.connect(home.keys_path) as db:  # the key store is unchanged
        assert db.execute("SELECT actor, revoked_at FROM api_keys").fetchall() == [
            ("alice", None)]
    with pytest.raises(LedgerError):  # and no key works while the record cannot be read
        store.authenticate(token)
