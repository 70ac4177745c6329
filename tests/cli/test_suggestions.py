"""An unknown command is refused with the command a user probably meant (issue 26):
``faceaudit enrol`` → ``gallery enrol``; one error line, exit 2, nothing on stdout."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from faceaudit.cli import app

runner = CliRunner()


@pytest.mark.parametrize(("args", "unknown", "meant"), [
    (["enrol", "photo.jpg"], "enrol", "'faceaudit gallery enrol'"),
    (["erase", "s-1"], "erase", "'faceaudit gallery erase'"),
    (["idenitfy", "probe.jpg"], "idenitfy", "'faceaudit identify'"),
    (["register-audit", "r.json"], "register-audit", "'faceaudit policy register-audit'"),
    (["ledger", "verfy"], "verfy", "'verify'"),
])
def test_an_unknown_command_suggests_the_one_meant(args: list[str], unknown: str,
                                                   meant: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith(f"faceaudit: error: no such command '{unknown}'")
    assert meant in result.stderr and len(result.stderr.splitlines()) == 1


def test_no_suggestion_when_nothing_is_close() -> None:
    result = runner.invoke(app, ["frobnicate"])
    assert result.exit_code == 2
    assert result.stderr == "faceaudit: error: no such command 'frobnicate' (faceaudit)\n"
