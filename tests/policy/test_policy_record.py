"""The policy in force is the one the ledger recorded: a hand edit never takes effect."""

from __future__ import annotations

import os

import pytest
from typer.testing import CliRunner

from faceaudit.cli import app
from faceaudit.ledger import Ledger
from faceaudit.ledger.errors import LedgerError
from faceaudit.policy import install_policy, load_policy
from faceaudit.policy.record import PolicyMismatchError, staged_policy_path

runner = CliRunner()


def _install(home, tmp_path, text: str, name: str = "p.toml"):
    source = tmp_path / name
    source.write_text(text)
    return install_policy(home, Ledger(home), source, "admin")


def test_a_hand_edit_is_refused_until_installed_through_the_ledger(home, tmp_path):
    assert _install(home, tmp_path, "max_candidates = 4\n").max_candidates == 4
    home.policy_path.write_text("max_candidates = 1000\n")  # an insider edits the file
    with pytest.raises(PolicyMismatchError, match="edited by hand"):
        load_policy(home)
    h = ["--home", str(home.root)]
    shown = runner.invoke(app, ["policy", "show", *h])
    assert shown.exit_code == 2 and "policy set" in shown.stderr
    listed = runner.invoke(app, ["identify", str(tmp_path / "x.png"), "--purpose", "p",
                                 "--case", "c", *h])
    assert listed.exit_code == 2 and "edited by hand" in listed.stderr
    assert _install(home, tmp_path, "max_candidates = 7\n", "q.toml").max_candidates == 7
    assert load_policy(home).max_candidates == 7
    changes = [e for e in Ledger(home).events() if e["action"] == "policy_change"]
    assert changes[-1]["result"]["previous_sha256"] == changes[0]["result"]["sha256"]


def test_a_file_dropped_in_or_removed_is_refused(home, tmp_path):
    assert load_policy(home).source == "default"  # no file, no event: the default
    home.policy_path.write_text("max_candidates = 1000\n")
    with pytest.raises(PolicyMismatchError, match="never installed"):
        load_policy(home)
    home.policy_path.unlink()
    _install(home, tmp_path, "max_candidates = 4\n")
    home.policy_path.unlink()  # back to the lax default?
    with pytest.raises(PolicyMismatchError, match="removed"):
        load_policy(home)


def test_operations_are_refused_while_the_policy_is_unrecorded(tmp_path):
    from faceaudit.deployment.operations import Deployment
    from faceaudit.ledger.genesis import init_home

    home = init_home(tmp_path / "home")
    home.policy_path.write_text("allowed_operations = ['enrol', 'identify']\n")
    deployment = Deployment(home)
    with pytest.raises(PolicyMismatchError):
        deployment.purge(actor="dpo")
    assert [e["action"] for e in Ledger(home).events()] == ["init"]


def test_a_ledger_that_refuses_the_change_leaves_the_policy_as_it_was(home, tmp_path):
    _install(home, tmp_path, "max_candidates = 4\n")
    data = home.ledger_path.read_bytes()
    home.ledger_path.write_bytes(data.replace(b'"actor":"admin"', b'"actor":"admim"'))
    with pytest.raises(LedgerError):
        _install(home, tmp_path, "max_candidates = 1000\n", "q.toml")
    assert home.policy_path.read_text() == "max_candidates = 4\n"
    assert not staged_policy_path(home).exists()


def test_an_install_interrupted_after_its_event_is_finished_on_load(home, tmp_path, monkeypatch):
    _install(home, tmp_path, "max_candidates = 4\n")

    def crash(*args, **kwargs):
        raise KeyboardInterrupt  # the process stops between the event and the rename

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        _install(home, tmp_path, "max_candidates = 9\n", "q.toml")
    monkeypatch.undo()
    assert home.policy_path.read_text() == "max_candidates = 4\n"
    assert load_policy(home).max_candidates == 9  # rolled forward: the ledger says 9
    assert home.policy_path.read_text() == "max_candidates = 9\n"
