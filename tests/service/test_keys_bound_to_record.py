"""Attack 6 of issue 21: whoever can write ``keys.db`` but cannot sign the ledger cannot undo a
revocation, promote a key, replace a key's token or mint a key. The insider edits the SQLite
file directly (sqlite3, the project's own token hashing); the service (a real HTTP server)
answers 503 with a problem naming the table and row, `ledger verify` exits 4 naming it, and a
key's role and revocation are read from the record."""

from __future__ import annotations

import json
import sqlite3
from contextlib import ExitStack

import pytest
from service_harness import Service, serve
from typer.testing import CliRunner

from faceaudit.cli import app
from faceaudit.ledger import Ledger
from faceaudit.ledger.genesis import init_home
from faceaudit.service.errors import KeyStoreTamperedError
from faceaudit.service.keys import TOKEN_PREFIX, KeyStore, hash_token

runner = CliRunner()
ADMIN_ONLY = "/v1/authorisations/held"


@pytest.fixture
def keyed(tmp_path):
    """A home with an admin key and an operator key, and a revoked operator key."""
    home = init_home(tmp_path / "home")
    store = KeyStore(home)
    admin, admin_token = store.create("admin", "root-admin")
    operator, operator_token = store.create("operator", "officer-1")
    revoked, revoked_token = store.create("operator", "officer-2")
    store.revoke(revoked.key_id)
    return home, {"admin": (admin, admin_token), "operator": (operator, operator_token),
                  "revoked": (revoked, revoked_token)}


def _sql(home, statement: str, *args) -> None:
    with sqlite3.connect(home.keys_path) as db:
        db.execute(statement, args)


def _get(home, token: str, path: str = ADMIN_ONLY):
    with ExitStack() as stack:
        service = Service(stack.enter_context(serve(home)), home, {})
        with service.client() as client:
            return client.get(path, headers={"X-API-Key": token})


def _verify(home):
    return runner.invoke(app, ["ledger", "verify", "--home", str(home.root)])


def test_an_untouched_store_serves_as_before(keyed):
    home, keys = keyed
    assert _get(home, keys["admin"][1]).status_code == 200
    assert _get(home, keys["operator"][1]).status_code == 403
    assert _get(home, keys["revoked"][1]).status_code == 401
    assert _verify(home).exit_code == 0
    assert KeyStore(home).check() == []


def _refused_everywhere(home, token: str, key_id: str) -> None:
    response = _get(home, token)
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["type"].endswith("/keys-tampered")
    assert (problem["table"], problem["row"]) == ("api_keys", key_id)
    assert key_id in problem["detail"]
    with pytest.raises(KeyStoreTamperedError, match=key_id):
        KeyStore(home).authenticate(token)
    verified = _verify(home)
    assert verified.exit_code == 4 and key_id in verified.output


def test_undoing_a_revocation_is_refused(keyed):
    """The record still holds the revocation: the key stays revoked (401, not 200), and
    `ledger verify` reports the row."""
    home, keys = keyed
    revoked, token = keys["revoked"]
    _sql(home, "UPDATE api_keys SET revoked_at = NULL WHERE key_id = ?", revoked.key_id)
    assert _get(home, token).status_code == 401
    assert KeyStore(home).authenticate(token) is None
    verified = _verify(home)
    assert verified.exit_code == 4 and revoked.key_id in verified.output
    assert "revoked in the ledger" in verified.output
    fixed = runner.invoke(app, ["keys", "revoke", revoked.key_id, "--home", str(home.root)])
    assert fixed.exit_code == 0 and _verify(home).exit_code == 0


def test_promoting_an_operator_to_admin_is_refused(keyed):
    home, keys = keyed
    operator, token = keys["operator"]
    _sql(home, "UPDATE api_keys SET role = 'admin' WHERE key_id = ?", operator.key_id)
    _refused_everywhere(home, token, operator.key_id)


def test_minting_a_key_is_refused(keyed):
    home, _ = keyed
    token = TOKEN_PREFIX + "x" * 43
    _sql(home, "INSERT INTO api_keys VALUES ('beefbeefbeef', ?, 'admin', 'mallory', "
         "'2026-01-01T00:00:00+00:00', NULL)", hash_token(token))
    _refused_everywhere(home, token, "beefbeefbeef")


def test_taking_over_an_admin_key_with_ones_own_token_is_refused(keyed):
    home, keys = keyed
    admin, _ = keys["admin"]
    token = TOKEN_PREFIX + "y" * 43
    _sql(home, "UPDATE api_keys SET token_sha256 = ? WHERE key_id = ?", hash_token(token),
         admin.key_id)
    _refused_everywhere(home, token, admin.key_id)


def test_a_revocation_the_store_missed_is_honoured_from_the_record(keyed):
    """A crash between the key_revoke event and the store write: the record says revoked, so
    the key no longer works, and the gap is reported."""
    home, keys = keyed
    operator, token = keys["operator"]
    Ledger(home).append("root-admin", "key_revoke", result={
        "key_id": operator.key_id, "role": "operator", "key_actor": "officer-1"})
    assert KeyStore(home).authenticate(token) is None
    assert _get(home, token).status_code == 401
    assert [operator.key_id in line for line in KeyStore(home).check()] == [True]
    listed = json.loads(runner.invoke(app, ["keys", "list", "--json", "--home",
                                            str(home.root)]).stdout)
    assert {k["key_id"]: k["revoked_at"] is not None for k in listed}[operator.key_id]


def test_the_role_served_is_the_recorded_one(keyed):
    home, keys = keyed
    admin, token = keys["admin"]
    found = KeyStore(home).authenticate(token)
    assert found is not None and found.role.value == "admin" and found.actor == "root-admin"


def test_a_key_from_before_the_binding_is_refused_with_a_way_out(keyed):
    """A key_create event without a token commitment (how keys were logged before) cannot be
    told apart from one whose token an insider replaced: it must be re-created."""
    home, _ = keyed
    token = TOKEN_PREFIX + "z" * 43
    Ledger(home).append("root-admin", "key_create", result={
        "key_id": "0123456789ab", "role": "admin", "key_actor": "old-admin"})
    _sql(home, "INSERT INTO api_keys VALUES ('0123456789ab', ?, 'admin', 'old-admin', "
         "'2025-01-01T00:00:00+00:00', NULL)", hash_token(token))
    with pytest.raises(KeyStoreTamperedError, match="create a new key"):
        KeyStore(home).authenticate(token)
