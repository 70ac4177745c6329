from pathlib import Path

import pytest

from faceaudit.home import init_home
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
