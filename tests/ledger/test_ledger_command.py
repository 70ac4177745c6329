import json

import pytest
from typer.testing import CliRunner

from faceaudit.home import Home
from faceaudit.ledger import Ledger
from faceaudit.ledger.command import ledger_app

runner = CliRunner()


@pytest.fixture
def home(tmp_path):
    home = Home(tmp_path / "home")
    led = Ledger(home)
    for i in range(5):
        led.append("alice", "identify", purpose="p", case="c",
                   result={"result_id": f"r{i}", "candidates": i})
    return home


def _run(*args, env=None):
    return runner.invoke(ledger_app, [str(a) for a in args], env=env)


def test_verify_exit_codes(home):
    ok = _run("verify", "--home", home.root)
    assert ok.exit_code == 0 and "intact: 5 events" in ok.output
    lines = home.ledger_path.read_bytes().splitlines(keepends=True)
    home.ledger_path.write_bytes(lines[0] + lines[2] + lines[1] + b"".join(lines[3:]))
    bad = _run("verify", "--home", home.root)
    assert bad.exit_code == 4
    assert "event 2" in bad.output and len(bad.output.strip().splitlines()) == 1


def test_export_stdout_and_file(home, tmp_path):
    result = _run("export", "--home", home.root)
    assert result.exit_code == 0
    assert [json.loads(line)["seq"] for line in result.output.splitlines()] == [1, 2, 3, 4, 5]
    out = tmp_path / "export.jsonl"
    assert _run("export", "--home", home.root, "--out", out).exit_code == 0
    assert out.read_bytes() == home.ledger_path.read_bytes()


def test_report_writes_files(home, tmp_path):
    day = json.loads(home.ledger_path.read_text().splitlines()[0])["time"][:10]
    result = _run("report", "--home", home.root, "--from", day, "--to", day, "--out",
                  tmp_path / "rep")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "rep" / "oversight.html").exists()
    data = json.loads((tmp_path / "rep" / "oversight.json").read_text())
    assert data["candidates"]["total"] == 10 and data["reviews"]["pending"] == 5


@pytest.mark.parametrize(("start", "end"), [("yesterday", "2025-01-01"),
                                            ("2025-02-01", "2025-01-01")])
def test_report_bad_dates_exit_2(home, tmp_path, start, end):
    result = _run("report", "--home", home.root, "--from", start, "--to", end, "--out", tmp_path)
    assert result.exit_code == 2


def test_keygen_then_checkpoint(home, tmp_path):
    key = tmp_path / "secret" / "signing.pem"
    made = _run("keygen", "--home", home.root, "--out", key)
    assert made.exit_code == 0, made.output
    assert home.public_key_path.exists() and key.exists()
    cp = _run("checkpoint", "--home", home.root, "--actor", "dpo",
              env={"FACEAUDIT_SIGNING_KEY": str(key)})
    assert cp.exit_code == 0, cp.output
    assert json.loads(cp.output)["result"]["covers_seq"] == 5
    verified = _run("verify", "--home", home.root)
    assert verified.exit_code == 0 and "1 signed checkpoints" in verified.output
    again = _run("keygen", "--home", home.root, "--out", key)
    assert again.exit_code == 2 and "refusing to overwrite" in again.output


def test_keygen_refuses_a_private_key_inside_the_home(home):
    result = _run("keygen", "--home", home.root, "--out", home.root / "k.pem")
    assert result.exit_code == 2 and not (home.root / "k.pem").exists()


def test_checkpoint_without_key_exit_2(home):
    result = _run("checkpoint", "--home", home.root, env={"FACEAUDIT_SIGNING_KEY": ""})
    assert result.exit_code == 2 and "no signing key" in result.output


def test_verify_refuses_a_home_that_does_not_exist(tmp_path):
    result = CliRunner().invoke(ledger_app, ["verify", "--home", str(tmp_path / "absent")])
    assert result.exit_code == 2
    assert "no deployment home" in result.output
