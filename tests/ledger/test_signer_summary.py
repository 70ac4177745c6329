"""Which kind of key signs the ledger, as `policy status`, the auditor page (over real HTTP)
and the oversight report tell an overseer: a file key is never called insider-proof, and a
private key file inside the home is reported even when another key signs."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from typer.testing import CliRunner

from faceaudit.base.home import Home
from faceaudit.cli import app
from faceaudit.ledger import Ledger
from faceaudit.ledger.genesis import init_home
from faceaudit.ledger.oversight import build_oversight
from faceaudit.ledger.signer import signer_summary
from faceaudit.ledger.signing import generate_keypair

runner = CliRunner()


def test_the_homes_own_key_is_marked_not_insider_proof(tmp_path, monkeypatch):
    monkeypatch.delenv("FACEAUDIT_SIGNING_KEY", raising=False)
    home = init_home(tmp_path / "home")
    summary = signer_summary(home)
    assert summary["kind"] == "file-in-home" and summary["insider_proof"] is False
    assert "NOT insider-proof" in summary["description"]
    status = runner.invoke(app, ["policy", "status", "--json", "--home", str(home.root)])
    shown = json.loads(status.stdout)
    assert shown["signer"]["kind"] == "file-in-home"
    plain = runner.invoke(app, ["policy", "status", "--home", str(home.root)])
    assert "NOT insider-proof" in plain.stdout.splitlines()[1]
    now = datetime.now(UTC)
    report = build_oversight(Ledger(home), now - timedelta(days=1), now + timedelta(days=1))
    assert report["ledger"]["signing_key"]["kind"] == "file-in-home"


def test_a_key_outside_the_home_is_named_and_still_not_insider_proof(tmp_path, monkeypatch):
    key = tmp_path / "keys" / "deployment.pem"
    generate_keypair(key, Home(tmp_path / "home").ensure().public_key_path)
    monkeypatch.setenv("FACEAUDIT_SIGNING_KEY", str(key))
    home = init_home(tmp_path / "home")
    summary = signer_summary(home)
    assert summary["kind"] == "file" and summary["insider_proof"] is False
    assert str(key) in summary["description"]
    monkeypatch.delenv("FACEAUDIT_SIGNING_KEY")
    none = signer_summary(home)
    assert none["kind"] == "none" and "may not append" in none["description"]


def test_a_stray_private_key_in_the_home_is_reported(tmp_path, monkeypatch):
    """The process signs with a key outside the home, but a private key file lies in the home
    too: the insider could sign with it, so the home is not insider-proof."""
    key = tmp_path / "keys" / "deployment.pem"
    generate_keypair(key, Home(tmp_path / "home").ensure().public_key_path)
    monkeypatch.setenv("FACEAUDIT_SIGNING_KEY", str(key))
    home = init_home(tmp_path / "home")
    home.signing_key_path.write_bytes(key.read_bytes())
    assert signer_summary(home)["kind"] == "file-in-home"
