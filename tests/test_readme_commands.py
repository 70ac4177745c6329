"""Every stateless command the README shows runs as written (issue 14).

The README's shell blocks are scanned for lines that call ``faceaudit`` with a stateless
command (``detect``, ``verify``, ``embed``, ``--help``, ``--version``); each one runs from the
repository root exactly as written, through a ``faceaudit`` on PATH that is this checkout, and
must exit with the code its ``# exit N`` comment names (0 without one). Errors must keep the
one-line grammar.

Every other shell block must be marked on the line before it (issue 26): ``<!-- illustrative
-->``, or ``<!-- quickstart: … -->`` for the deployment quick start that
tests/test_readme_quickstart.py runs; a block that is neither run nor marked fails, so no
command in the README goes unchecked without saying so.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STATELESS = {"detect", "verify", "embed", "--help", "--version"}


def readme_commands() -> list[tuple[str, int]]:
    """(command line, expected exit code) for each stateless ``faceaudit`` line of a sh block."""
    text = (ROOT / "README.md").read_text()
    found = []
    for block in re.findall(r"```sh\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            command, _, comment = line.partition("#")
            words = shlex.split(command)
            if len(words) >= 2 and words[0] == "faceaudit" and words[1] in STATELESS:
                code = re.search(r"exit (\d+)", comment)
                found.append((command.strip(), int(code.group(1)) if code else 0))
    return found


COMMANDS = readme_commands()
ILLUSTRATIVE = "<!-- illustrative -->"
QUICKSTART = "<!-- quickstart: tests/test_readme_quickstart.py runs this block -->"


def test_every_shell_block_is_run_here_or_marked_illustrative() -> None:
    text = (ROOT / "README.md").read_text()
    unchecked = []
    for match in re.finditer(r"(?m)^```(?:sh|bash|console)\n(.*?)^```", text, flags=re.S):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        if before.strip() in (ILLUSTRATIVE, QUICKSTART):
            continue
        for line in match.group(1).splitlines():
            words = shlex.split(line.partition("#")[0])
            if words and not (len(words) >= 2 and words[0] == "faceaudit"
                              and words[1] in STATELESS):
                unchecked.append(line.strip())
    assert not unchecked, f"run these in this test or mark their block {ILLUSTRATIVE}: {unchecked}"


def test_the_readme_shows_the_stateless_commands() -> None:
    shown = {shlex.split(command)[1] for command, _ in COMMANDS}
    assert shown == STATELESS, shown


@pytest.fixture(scope="module")
def shell_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """PATH with a ``faceaudit`` that runs this checkout's source."""
    bin_dir = tmp_path_factory.mktemp("bin")
    shim = bin_dir / "faceaudit"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m faceaudit "$@"\n')
    shim.chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"),
                                                        os.environ.get("PYTHONPATH")]))}


@pytest.mark.parametrize(("command", "code"), COMMANDS, ids=[c for c, _ in COMMANDS])
def test_readme_command_runs_as_written(command: str, code: int,
                                        shell_env: dict[str, str]) -> None:
    done = subprocess.run(["/bin/sh", "-c", command], cwd=ROOT, env=shell_env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == code, (command, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    if code == 2:
        assert done.stderr.startswith("faceaudit: error: ") and done.stdout == ""
        assert len(done.stderr.splitlines()) == 1
    else:
        assert done.stdout.strip(), command
