"""Every missing option is named at once (issue 26), not only the first Click meets: one
line, exit 2, nothing on stdout."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from faceaudit.cli import app

runner = CliRunner()


@pytest.mark.parametrize(("args", "line"), [
    (["identify", "x.jpg"], "faceaudit: error: missing options (--purpose, --case)\n"),
    (["identify", "--purpose", "p"], "faceaudit: error: missing parameters (IMAGE, --case)\n"),
    (["gallery", "enrol", "x.jpg", "--subject", "s"],
     "faceaudit: error: missing options (--basis, --evidence)\n"),
    (["identify", "x.jpg", "--purpose", "p"], "faceaudit: error: missing option (--case)\n"),
])
def test_every_missing_option_is_named(args: list[str], line: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == line
