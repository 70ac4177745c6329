"""Attack 2 of issue 21: the insider (every file of the home, the project's own hashing code, no
signing key) writes a `policy.toml` that waives the bias gate and appends the matching forged
`policy_change` event, re-chaining the ledger, the head witness and the tree. No signed tree
head covers it, so the gate refuses — a waiver never lifts `ledger-unverified` — and
identification stays refused, on files and on PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from ledger_raw import read_raw, rechain_raw
from typer.testing import CliRunner

from faceaudit.base.home import Home
from faceaudit.cli import app
from faceaudit.ledger import Ledger
from faceaudit.ledger.genesis import init_home
from faceaudit.ledger.signing import generate_keypair
from faceaudit.policy.gate import evaluate_gate
from faceaudit.policy.model import load_policy
from faceaudit.policy.record import policy_digest

runner = CliRunner()
BACKEND = "dlib-resnet:1"


@pytest.fixture
def home(tmp_path, database_url, monkeypatch) -> Home:
    """A home whose signing key lives outside it, with no audit registered."""
    if database_url is not None:
        monkeypatch.setenv("FACEAUDIT_DATABASE_URL", database_url)
    key = tmp_path / "keys" / "deployment.pem"
    generate_keypair(key, Home(tmp_path / "home").ensure().public_key_path)
    monkeypatch.setenv("FACEAUDIT_SIGNING_KEY", str(key))
    return init_home(tmp_path / "home", database_url)


def _status(home: Home):
    result = runner.invoke(app, ["policy", "status", "--json", "--backend", BACKEND,
                                 "--home", str(home.root)])
    return result.exit_code, json.loads(result.stdout) if result.stdout.strip() else None


def test_a_forged_waiver_at_the_tail_does_not_open_the_gate(home):
    code, status = _status(home)
    assert code == 5 and status["rule"] == "no-audit"
    waiver = b'[bias_gate]\nwaived_because = "the insider says so"\n'
    led = Ledger(home)
    events = [json.loads(line) for line in read_raw(led).split(b"\n")[:-1]]
    forged = {**events[-1], "actor": "admin", "action": "policy_change",
              "time": datetime.now(UTC).isoformat(timespec="microseconds"),
              "result": {"sha256": policy_digest(waiver), "previous_sha256": None}}
    rechain_raw(led, [*events, forged])
    home.policy_path.write_bytes(waiver)
    assert load_policy(home).bias_gate.waived_because  # the file matches the forged event
    gate = evaluate_gate(load_policy(home), home, BACKEND, datetime.now(UTC), Ledger(home))
    assert not gate.passed and not gate.waived and gate.rule == "ledger-unverified"
    code, status = _status(home)
    assert code == 5 and status["rule"] == "ledger-unverified" and not status["allowed"]


def test_a_genuine_waiver_still_waives(home, tmp_path):
    """The check does not stop a waiver the deployment itself recorded and signed."""
    policy = tmp_path / "waiver.toml"
    policy.write_text('[bias_gate]\nwaived_because = "pilot, DPO ticket 7"\n')
    assert runner.invoke(app, ["policy", "set", str(policy), "--home",
                               str(home.root)]).exit_code == 0
    code, status = _status(home)
    assert code == 0 and status["waived"] is True
