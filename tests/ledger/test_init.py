"""Only ``faceaudit init`` creates a deployment home; every other command refuses a missing one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from faceaudit.base.home import Home, HomeMissingError
from faceaudit.cli import app
from faceaudit.deployment.operations import Deployment
from faceaudit.ledger.genesis import init_home
from faceaudit.service.app import create_app
from faceaudit.service.keys import KeyStore

runner = CliRunner()

COMMANDS = [
    ["gallery", "list"],
    ["gallery", "enrol", "x.png", "--subject", "s", "--basis", "consent", "--evidence", "e"],
    ["gallery", "erase", "s"],
    ["gallery", "purge"],
    ["identify", "x.png", "--purpose", "p", "--case", "c"],
    ["review", "pending"],
    ["review", "decide", "t1", "--confirm"],
    ["lead", "action", "r1", "0", "s", "--kind", "arrest", "--evidence", "e", "--by", "b"],
    ["ledger", "verify"],
    ["ledger", "export"],
    ["ledger", "report", "--from", "2024-01-01", "--to", "2024-01-02", "--out", "out"],
    ["ledger", "checkpoint", "--key", "k.pem"],
    ["ledger", "keygen", "--out", "k.pem"],
    ["policy", "show"],
    ["policy", "set", "p.toml"],
    ["policy", "register-audit", "report.json"],
    ["keys", "create", "--role", "admin", "--actor", "a"],
    ["keys", "list"],
    ["keys", "revoke", "k1"],
    ["serve"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_every_command_refuses_a_missing_home_naming_it(command: list[str], tmp_path: Path):
    typo = tmp_path / "mistyped-home"
    result = runner.invoke(app, [*command, "--home", str(typo)])
    assert result.exit_code == 2, result.output
    assert str(typo) in result.stderr and "faceaudit init" in result.stderr
    assert result.stderr.count("\n") == 1
    assert not typo.exists()


def test_an_existing_folder_that_is_not_a_home_is_refused_too(tmp_path: Path):
    result = runner.invoke(app, ["gallery", "list", "--home", str(tmp_path)])
    assert result.exit_code == 2 and "faceaudit init" in result.stderr


def test_init_creates_the_home_once_and_then_commands_work(tmp_path: Path):
    target = tmp_path / "deploy"
    made = runner.invoke(app, ["init", "--json", "--home", str(target)])
    assert made.exit_code == 0, made.output
    assert json.loads(made.stdout) == {"home": str(target.resolve()), "created": True}
    assert (target.stat().st_mode & 0o777) == 0o700
    again = runner.invoke(app, ["init", "--json", "--home", str(target)])
    assert json.loads(again.stdout)["created"] is False
    listed = runner.invoke(app, ["gallery", "list", "--json", "--home", str(target)])
    assert listed.exit_code == 0 and json.loads(listed.stdout) == []


def test_the_library_refuses_a_missing_home(tmp_path: Path):
    missing = Home(tmp_path / "nope")
    for make in (Deployment, KeyStore, create_app):
        with pytest.raises(HomeMissingError, match="nope"):
            make(missing)
    assert not missing.root.exists()
    assert Deployment(init_home(missing.root)).list_subjects() == []


def test_init_with_a_database_url_puts_gallery_and_ledger_in_postgresql(tmp_path: Path,
                                                                        postgres_url: str):
    root = tmp_path / "home"
    unreachable = "postgresql://nobody@127.0.0.1:1/none?connect_timeout=2"
    failed = runner.invoke(app, ["init", "--home", str(root), "--database-url", unreachable])
    assert failed.exit_code == 2
    assert failed.stderr.count("\n") == 1 and "database" in failed.stderr
    made = runner.invoke(app, ["init", "--home", str(root), "--database-url", postgres_url])
    assert made.exit_code == 0, made.stderr  # the corrected URL replaces the one that failed
    listed = runner.invoke(app, ["gallery", "list", "--json", "--home", str(root)])
    assert listed.exit_code == 0 and json.loads(listed.stdout) == []
    verified = runner.invoke(app, ["ledger", "verify", "--home", str(root)])
    assert verified.exit_code == 0, verified.stderr
    home = Home(root)
    assert home.database_url_in_force() == postgres_url  # from the home's config
    assert not home.ledger_path.exists() and not home.db_path.exists()
    assert [e["action"] for e in Deployment(home).ledger.events()] == ["init"]
