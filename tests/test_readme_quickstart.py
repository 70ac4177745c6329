"""The README's deployment quick start runs as written (issue 26).

The shell block the README marks ``<!-- quickstart: … -->`` is run as one ``/bin/sh`` script
from the repository root, in a fresh ``$HOME`` with no faceaudit variable set, through a
``faceaudit`` on PATH that is this checkout: each command must exit with the code its ``# exit
N`` comment names (0 without one), and the script stops at the first that does not. Then the
deployment it made is checked: it enrolled, was refused, installed a policy, identified, had a
second person review, erased, and its ledger verifies — with no file of the checkout changed.
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
MARKER = "<!-- quickstart: tests/test_readme_quickstart.py runs this block -->"


def quickstart_lines() -> list[tuple[str, int]]:
    """(command, expected exit code) for each line of the README's quick start block."""
    text = (ROOT / "README.md").read_text()
    start = text.index(MARKER)
    block = re.search(r"```sh\n(.*?)```", text[start:], flags=re.S)
    assert block is not None and text[start:].index("```sh") == len(MARKER) + 1
    found = []
    for line in block.group(1).splitlines():
        command, _, comment = line.partition("  #")
        if command.strip():
            code = re.match(r"\s*exit (\d+)", comment)  # "# exit N: …" leads the comment
            found.append((command.strip(), int(code.group(1)) if code else 0))
    return found


def script(lines: list[tuple[str, int]]) -> str:
    """The block as a script that stops at the first command with an unexpected exit code."""
    out = []
    for number, (command, code) in enumerate(lines, 1):
        out.append(command)
        out.append(f'rc=$?; if [ "$rc" != {code} ]; then echo "quick start line {number}: exit '
                   f'$rc, expected {code}: "{shlex.quote(command)} >&2; exit 99; fi')
    return "\n".join(out) + "\n"


def test_the_quick_start_has_the_steps_the_issue_names() -> None:
    commands = " ; ".join(c for c, _ in quickstart_lines())
    for step in ("faceaudit init", "gallery enrol", "identify", "policy set", "review",
                 "gallery erase", "ledger verify"):
        assert step in commands, step
    assert (("faceaudit identify demo/photos/face_recognition-mit/obama2.jpg --purpose "
             "\"fraud check\" --case C-1"), 5) in quickstart_lines()


@pytest.fixture
def fresh_env(tmp_path: Path) -> dict[str, str]:
    """A fresh $HOME, no FACEAUDIT_* variable, and a ``faceaudit`` on PATH running this
    checkout."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "faceaudit"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m faceaudit "$@"\n')
    shim.chmod(0o755)
    home = tmp_path / "user"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACEAUDIT_")}
    from faceaudit.base.home import cache_dir

    # the converted models are a cache, not deployment state: keep this machine's
    return {**env, "HOME": str(home), "PATH": f"{bin_dir}{os.pathsep}{env['PATH']}",
            "FACEAUDIT_CACHE": str(cache_dir()),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"),
                                                        env.get("PYTHONPATH")]))}


def _status() -> str:
    done = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=ROOT,
                          capture_output=True, text=True, check=False)
    return done.stdout if done.returncode == 0 else ""


def test_the_quick_start_runs_as_written_in_a_fresh_home(fresh_env: dict[str, str]) -> None:
    before = _status()
    done = subprocess.run(["/bin/sh", "-c", script(quickstart_lines())], cwd=ROOT,
                          env=fresh_env, capture_output=True, text=True, timeout=600,
                          check=False)
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    assert _status() == before, "the quick start changed files of the checkout"

    from faceaudit.base.home import Home
    from faceaudit.ledger import Ledger

    home = Home(Path(fresh_env["HOME"]) / "faceaudit-quickstart")
    events = list(Ledger(home).events())
    actions = [e["action"] for e in events]
    for action in ("enrol", "refused", "policy_change", "identify", "review", "erase"):
        assert action in actions, (action, actions)
    review = next(e for e in events if e["action"] == "review")
    assert review["actor"] == "bob"
    assert "verified" in done.stdout or "ok" in done.stdout.lower()
