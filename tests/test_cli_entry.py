"""How the CLI is reached: ``--version``, ``python -m faceaudit``, shell completion, py.typed."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import faceaudit

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=120,
    )


def test_version_matches_the_package_metadata() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    done = run("-m", "faceaudit", "--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"faceaudit {project['version']}\n"
    assert faceaudit.__version__ == project["version"]


def test_python_dash_m_faceaudit_is_the_cli() -> None:
    done = run("-m", "faceaudit", "--help")
    assert done.returncode == 0, done.stderr
    for command in ("detect", "verify", "audit", "gallery", "serve"):
        assert command in done.stdout
    usage = run("-m", "faceaudit", "detect")  # missing argument: the CLI's one-line usage error
    assert usage.returncode == 2
    assert usage.stderr.strip().splitlines() == ["faceaudit: error: missing argument (IMAGE)"]


def test_shell_completion_is_available() -> None:
    done = run("-m", "faceaudit", "--show-completion", "bash")
    assert done.returncode == 0, done.stderr
    assert "_FACEAUDIT_COMPLETE" in done.stdout and "complete " in done.stdout
    assert "--install-completion" in run("-m", "faceaudit", "--help").stdout


def test_package_ships_py_typed() -> None:
    package_dir = Path(faceaudit.__file__).parent
    assert (package_dir / "py.typed").is_file()
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "py.typed" in package_data["package-data"]["faceaudit"]
