"""``--help`` is for people (issue 26): no Python types (``<list[Path]>``, ``<bool>`` on a plain
flag) and the shell-completion options on the root command only."""

from __future__ import annotations

import re

import pytest
from test_grammar import COMMANDS
from typer.testing import CliRunner

from faceaudit.cli import app

runner = CliRunner()
PYTHON_TYPE = re.compile(r"<(str|int|float|bool|path|file|directory|list\[[^>]*\]|[a-z|]+)>")


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_help_has_plain_metavars_and_no_completion_options(command: str) -> None:
    result = runner.invoke(app, [*command.split(), "--help"])
    assert result.exit_code == 0, result.output
    assert not PYTHON_TYPE.search(result.stdout), PYTHON_TYPE.findall(result.stdout)
    assert "-completion" not in result.stdout


def test_the_root_help_keeps_completion_and_plain_flags() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "--install-completion" in result.stdout and "--show-completion" in result.stdout
    assert not PYTHON_TYPE.search(result.stdout)


def test_values_get_plain_names() -> None:
    help_text = runner.invoke(app, ["identify", "--help"]).stdout
    assert re.search(r"--top\s+N\b", help_text)
    assert re.search(r"--purpose\s+TEXT\b", help_text)
    assert "IMAGE" in runner.invoke(app, ["identify", "--help"]).stdout
