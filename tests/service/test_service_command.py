import json
import os
import signal
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


def _descendants(pid: int) -> set[int]:
    """Every living process below ``pid`` (read from /proc)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_serve_stopped_by_sigterm_leaves_no_decode_workers(tmp_path: Path) -> None:
    # uvicorn re-raises the SIGTERM it shut down on, so only the app's lifespan can stop the
    # decode worker processes; before it did, they outlived the server for good.
    from service_harness import faces_small, register_passing_audit

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    home = tmp_path / "h"
    init_home(home)
    register_passing_audit(Home(home), "dlib-resnet:1")
    token = KeyStore(Home(home)).create("operator", "op")[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "faceaudit.cli", "serve", "--port", str(port), "--home",
         str(home)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.2)
        image = (faces_small() / "face_recognition-mit" / "obama.jpg").read_bytes()
        httpx.post(f"http://127.0.0.1:{port}/v1/verify", headers={"X-API-Key": token},
                   data={"purpose": "t"}, timeout=120,
                   files={"image_a": ("a.jpg", image), "image_b": ("b.jpg", image)})
        workers = _descendants(proc.pid)
        assert workers, "the upload was not decoded in worker processes"
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    deadline = time.monotonic() + 30
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = {pid for pid in workers if _alive(pid)}
    for pid in left:  # do not leave them behind for the next test either
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    assert not left, f"decode workers outlived the server: {sorted(left)}"
