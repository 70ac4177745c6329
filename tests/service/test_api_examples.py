"""docs/api.md's curl and httpx examples run as written against a live service (issue 26)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from conftest import ROOMY
from service_harness import Service, fake_calibration, make_keys, register_passing_audit, serve

from faceaudit.deployment.operations import Deployment
from faceaudit.ledger import Ledger
from faceaudit.ledger.genesis import init_home
from faceaudit.service.keys import Role

ROOT = Path(__file__).resolve().parents[2]


def _blocks(language: str) -> list[str]:
    text = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    section = text.split("## Examples: curl and httpx", 1)[1].split("\n## ", 1)[0]
    return re.findall(rf"```{language}\n(.*?)```", section, re.S)


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Service]:
    home = init_home(tmp_path / "home")
    register_passing_audit(home, "dlib-resnet:1")
    deployment = Deployment(home, calibration=fake_calibration())
    with ExitStack() as stack:
        yield Service(stack.enter_context(serve(home, ROOMY, deployment)), home, make_keys(home))


def _actions(service: Service) -> list[str]:
    return [e["action"] for e in Ledger(service.home).events()]


def test_the_curl_flow_runs_as_written(live: Service) -> None:
    if shutil.which("curl") is None:
        pytest.skip("no curl on PATH")
    (block,) = _blocks("sh")
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "FACEAUDIT_URL": live.url, "FACEAUDIT_HOME": str(live.home.root),
           "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:] + done.stdout[-3000:]
    assert '"match":true' in done.stdout and '"your_decision":"confirm"' in done.stdout
    assert '"ok":true' in done.stdout
    actions = _actions(live)
    for action in ("key_create", "enrol", "verify", "identify", "review", "erase"):
        assert action in actions, action


def test_the_httpx_flow_runs_as_written(live: Service, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    (block,) = _blocks("python")
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("FACEAUDIT_URL", live.url)
    for role in (Role.ENROLLER, Role.OPERATOR, Role.REVIEWER, Role.AUDITOR):
        monkeypatch.setenv(f"FACEAUDIT_{role.value.upper()}_KEY", live.tokens[role])
    exec(compile(block, "docs/api.md", "exec"), {"__name__": "docs_example"})  # noqa: S102
    out = capsys.readouterr().out
    assert "enrolled s-obama-2" in out and "review confirm" in out
    assert "s-obama-2 0.9" in out and "ledger intact" in out
    assert _actions(live).count("erase") == 1
