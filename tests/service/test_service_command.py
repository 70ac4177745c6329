import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from typer.testing import CliRunner

from faceaudit.base.home import Home
from faceaudit.cli.serve import keys_app
from faceaudit.ledger.genesis import init_home
from faceaudit.service.keys import KeyStore

runner = CliRunner()


def test_keys_create_list_revoke(tmp_path: Path) -> None:
    init_home(tmp_path)
    home = ["--home", str(tmp_path)]
    created = runner.invoke(keys_app, ["create", "--role", "auditor", "--actor", "ann", "--json",
                                       *home])
    assert created.exit_code == 0, created.output
    key = json.loads(created.stdout)
    assert key["role"] == "auditor" and key["actor"] == "ann" and key["key"].startswith("fa_")
    assert KeyStore(Home(tmp_path)).authenticate(key["key"]) is not None

    listed = runner.invoke(keys_app, ["list", "--json", *home])
    rows = json.loads(listed.stdout)  # one JSON document: a list
    assert [r["key_id"] for r in rows] == [key["key_id"]]
    assert "key" not in rows[0]

    revoked = runner.invoke(keys_app, ["revoke", key["key_id"], "--actor", "root-admin", *home])
    assert revoked.exit_code == 0
    from faceaudit.ledger import Ledger

    logged = [(e["action"], e["actor"], e["result"]["key_id"])
              for e in Ledger(Home(tmp_path)).events() if e["action"] != "init"]
    assert logged[0][0] == "key_create" and logged[0][2] == key["key_id"]
    assert logged[1] == ("key_revoke", "root-admin", key["key_id"])
    assert KeyStore(Home(tmp_path)).authenticate(key["key"]) is None


def test_keys_bad_input_is_one_line_exit_2(tmp_path: Path) -> None:
    init_home(tmp_path)
    result = runner.invoke(keys_app, ["create", "--role", "root", "--actor", "x",
                                      "--home", str(tmp_path)])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "faceaudit: error: unknown role 'root';"
        " choose one of admin, enroller, operator, reviewer, auditor"
    ]
    result = runner.invoke(keys_app, ["revoke", "nope", "--home", str(tmp_path)])
    assert result.exit_code == 2 and "no key" in result.stderr


def test_serve_command_runs_the_service(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code = (
        "import typer; from faceaudit.cli.serve import serve_command; "
        "typer.run(serve_command)"
    )
    init_home(tmp_path / "h")
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "--port", str(port), "--home", str(tmp_path / "h")],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
                assert time.monotonic() < deadline, "serve did not come up"
                time.sleep(0.2)
        assert response.status_code == 200
        assert (tmp_path / "h" / "keys.db").is_file()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
