"""The Dockerfile, linted without building: slim base, non-root user, serve, a volume."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    logical, current = [], ""
    for line in text.splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            current += line.rstrip()[:-1] + " "
            continue
        current += line
        logical.append(current.strip())
        current = ""
    assert not current, "the Dockerfile ends inside a continued line"
    pairs = []
    for entry in logical:
        keyword, _, args = entry.partition(" ")
        pairs.append((keyword.upper(), args.strip()))
    return pairs


@pytest.fixture(scope="module")
def dockerfile() -> list[tuple[str, str]]:
    return instructions((ROOT / "Dockerfile").read_text())


def _all(pairs: list[tuple[str, str]], keyword: str) -> list[str]:
    return [args for kw, args in pairs if kw == keyword]


def _env(pairs: list[tuple[str, str]]) -> dict[str, str]:
    env = {}
    for args in _all(pairs, "ENV"):
        env.update(dict(re.findall(r"(\w+)=(\S+)", args)))
    return env


def test_base_is_slim_python_311(dockerfile) -> None:
    assert dockerfile[0][0] == "FROM"
    assert re.fullmatch(r"python:3\.11(\.\d+)?-slim(-\w+)?", dockerfile[0][1])


def test_runs_as_a_non_root_user_made_in_the_image(dockerfile) -> None:
    users = _all(dockerfile, "USER")
    assert users, "no USER line: the service would run as root"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}
    created = " ".join(_all(dockerfile, "RUN"))
    assert re.search(rf"useradd\b.*--uid {user}\b", created) or re.search(
        rf"useradd\b.*\b{user}$", created), "the USER is not created by a RUN useradd"
    keywords = [kw for kw, _ in dockerfile]
    last_user = len(keywords) - 1 - keywords[::-1].index("USER")
    assert last_user < keywords.index("ENTRYPOINT") and last_user < keywords.index("CMD")


def test_entrypoint_is_faceaudit_serve_on_all_interfaces(dockerfile) -> None:
    (entrypoint,) = _all(dockerfile, "ENTRYPOINT")
    (cmd,) = _all(dockerfile, "CMD")
    entry, args = json.loads(entrypoint), json.loads(cmd)  # exec form: signals reach the server
    assert entry == ["faceaudit"] and args[0] == "serve"
    assert args[args.index("--host") + 1] == "0.0.0.0"
    port = args[args.index("--port") + 1]
    assert port in " ".join(_all(dockerfile, "EXPOSE")).split()
    serve_help = subprocess.run(
        [sys.executable, "-m", "faceaudit", "serve", "--help"],
        capture_output=True, text=True, timeout=120,
    )
    assert serve_help.returncode == 0, serve_help.stderr
    for option in args[1::2]:
        assert option in serve_help.stdout


def test_home_and_cache_live_on_the_volume(dockerfile) -> None:
    volumes = [v for args in _all(dockerfile, "VOLUME") for v in json.loads(args)]
    env = _env(dockerfile)
    for variable in ("FACEAUDIT_HOME", "FACEAUDIT_CACHE"):
        assert any(env[variable].startswith(v.rstrip("/") + "/") for v in volumes), variable


def test_installs_the_package_and_downloads_nothing(dockerfile) -> None:
    runs = " ".join(_all(dockerfile, "RUN"))
    assert re.search(r"pip install [^&]*\s\"?\.(\[postgres\])?\"?(\s|$)", runs)
    assert not re.search(r"\b(curl|wget|git clone)\b|https?://", runs)
    ignored = (ROOT / ".dockerignore").read_text().split()
    for args in _all(dockerfile, "COPY"):
        *sources, _ = args.split()
        for source in sources:
            assert (ROOT / source).exists(), source
            assert source not in ignored, f"{source} is copied but .dockerignore drops it"
