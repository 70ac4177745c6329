"""Every command that produces data has ``--json`` (one JSON document on stdout) and a human
view by default (docs/cli.md, "Output")."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from test_grammar import COMMANDS
from typer.testing import CliRunner

from faceaudit.cli import app
from faceaudit.ledger.genesis import init_home

# Commands with no data of their own on stdout: the service runs; export writes the ledger's
# own canonical JSON-lines format (to --out or stdout), which is the data itself.
NO_DATA = {"serve", "ledger export"}


def _options(command: str) -> set[str]:
    group = typer.main.get_command(app)
    ctx = typer.Context(group)
    for name in command.split():
        group = group.get_command(ctx, name)
        ctx = typer.Context(group)
    return {opt for param in group.params for opt in getattr(param, "opts", [])}


@pytest.mark.parametrize("command", sorted(set(COMMANDS) - NO_DATA))
def test_every_data_command_takes_json(command: str) -> None:
    assert "--json" in _options(command), f"faceaudit {command} has no --json"


def test_json_is_one_document_and_the_default_view_is_for_people(tmp_path: Path) -> None:
    home = ["--home", str(tmp_path / "home")]
    init_home(tmp_path / "home")
    runner = CliRunner()
    runner.invoke(app, ["keys", "create", "--role", "admin", "--actor", "ann", *home])
    for argv in (["init", *home], ["keys", "list", *home], ["policy", "show", *home],
                 ["gallery", "list", *home], ["ledger", "verify", *home],
                 ["ledger", "sth", *home], ["ledger", "prove", "--seq", "1", *home]):
        as_json = runner.invoke(app, [*argv, "--json"])
        assert as_json.exit_code == 0, (argv, as_json.output)
        json.loads(as_json.stdout)  # the whole of stdout is one document
        human = runner.invoke(app, argv)
        assert human.exit_code == 0 and human.stdout.strip(), argv
        with pytest.raises(json.JSONDecodeError):
            json.loads(human.stdout)
    keys = json.loads(runner.invoke(app, ["keys", "list", "--json", *home]).stdout)
    assert isinstance(keys, list) and keys[0]["actor"] == "ann"  # one array, not JSON lines


def test_verify_views(faces_small: Path) -> None:
    mit = faces_small / "face_recognition-mit"
    human = CliRunner().invoke(app, ["verify", str(mit / "obama.jpg"), str(mit / "obama2.jpg")])
    assert human.exit_code == 0 and human.stdout.startswith("match: score ")
    data = json.loads(CliRunner().invoke(
        app, ["verify", "--json", str(mit / "obama.jpg"), str(mit / "biden.jpg")]).stdout)
    assert data["match"] is False and data["score"] < data["threshold"]
