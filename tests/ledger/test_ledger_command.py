import json

import pytest
from typer.testing import CliRunner

from faceaudit.base.home import Home
from faceaudit.cli.ledger import ledger_app
from faceaudit.ledger import Ledger, LedgerError
from faceaudit.ledger.errors import LedgerNoSignerError

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
    assert "event 2" in bad.stdout and len(bad.stdout.strip().splitlines()) == 1
    assert bad.stderr.startswith("faceaudit: error:") and len(bad.stderr.splitlines()) == 1


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


def test_keygen_then_sth(tmp_path):
    home = Home(tmp_path / "fresh")
    home.ensure()
    home.marker_path.write_text("{}")  # a home from before init: no genesis event, no key yet
    key = tmp_path / "secret" / "signing.pem"
    made = _run("keygen", "--home", home.root, "--out", key)
    assert made.exit_code == 0, made.output
    assert home.public_key_path.exists() and key.exists()
    with pytest.raises(LedgerNoSignerError):
        Ledger(home).append("alice", "enrol")  # this process does not hold the key
    assert not home.signing_key_path.exists() and not home.ledger_path.read_bytes()
    for _ in range(3):
        Ledger(home, signing_key=key).append("alice", "enrol")
    head = _run("sth", "--json", "--home", home.root, env={"FACEAUDIT_SIGNING_KEY": str(key)})
    assert head.exit_code == 0, head.output
    assert json.loads(head.output)["tree_size"] == 3
    assert json.loads(head.output)["format"] == "faceaudit-sth/2"
    verified = _run("verify", "--home", home.root)
    assert verified.exit_code == 0 and "4 signed tree heads verified" in verified.output
    again = _run("keygen", "--home", home.root, "--out", tmp_path / "other.pem")
    assert again.exit_code == 2 and "already has a signing key" in again.output


def test_keygen_refuses_a_private_key_inside_the_home(home):
    result = _run("keygen", "--home", home.root, "--out", home.root / "k.pem")
    assert result.exit_code == 2 and not (home.root / "k.pem").exists()


def test_sth_without_key_exit_4(tmp_path):
    home = Home(tmp_path / "fresh")
    home.ensure()
    home.marker_path.write_text("{}")
    assert _run("keygen", "--home", home.root, "--out", tmp_path / "k.pem").exit_code == 0
    Ledger(home, signing_key=tmp_path / "k.pem").append("alice", "enrol")
    result = _run("sth", "--home", home.root, env={"FACEAUDIT_SIGNING_KEY": ""})
    assert result.exit_code == 4 and "no signing key" in result.output
    assert "FACEAUDIT_SIGNING_KEY" in result.output  # names how to configure one


def test_sth_and_prove_with_the_homes_own_key(home):
    head = json.loads(_run("sth", "--json", "--home", home.root).output)
    assert head["tree_size"] == 5
    inclusion = _run("prove", "--json", "--home", home.root, "--seq", 3)
    assert inclusion.exit_code == 0, inclusion.output
    proof = json.loads(inclusion.output)
    assert proof["tree_size"] == 5 and proof["sth"]["root_hash"] == proof["root_hash"]
    consistency = json.loads(_run("prove", "--json", "--home", home.root, "--first", 2).output)
    assert consistency["second"] == 5 and consistency["proof"]
    for args in (["--seq", 9], ["--first", 6], ["--seq", 1, "--first", 1], []):
        bad = _run("prove", "--home", home.root, *args)
        assert bad.exit_code == 2 and bad.stderr.startswith("faceaudit: error:"), args


def test_verify_refuses_a_home_that_does_not_exist(tmp_path):
    result = CliRunner().invoke(ledger_app, ["verify", "--home", str(tmp_path / "absent")])
    assert result.exit_code == 2
    assert "no deployment home" in result.output


def test_an_initialised_home_verifies_and_a_deleted_ledger_does_not(tmp_path):
    """Issue 9: deleting ledger.jsonl and ledger.head used to give "intact: 0 events"."""
    from faceaudit.ledger.genesis import init_home

    home = init_home(tmp_path / "new")
    (genesis,) = Ledger(home).events()
    assert genesis["action"] == "init"
    fresh = _run("verify", "--home", home.root)
    assert fresh.exit_code == 0 and "intact: 1 events, 1 signed tree heads" in fresh.output
    Ledger(home).append("alice", "identify", purpose="p", case="c")
    home.ledger_path.unlink()
    (home.root / "ledger.head").unlink()
    deleted = _run("verify", "--home", home.root)
    assert deleted.exit_code == 4 and "0 events" not in deleted.output
    with pytest.raises(LedgerError, match="signed tree head covers"):
        init_home(home.root)  # init again cannot paper over it: the genesis append is refused
    assert not home.ledger_path.exists() or home.ledger_path.read_bytes() == b""


def test_report_without_a_period_covers_all_time_as_the_rest_report(home, tmp_path):
    """No --from/--to: every event up to now, the period GET /v1/reports/oversight uses."""
    from faceaudit.ledger.oversight import build_oversight
    from faceaudit.ledger.report_period import EPOCH, report_period

    result = _run("report", "--home", home.root, "--out", tmp_path / "all")
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "all" / "oversight.json").read_text())
    assert data["candidates"]["total"] == 10 and data["reviews"]["pending"] == 5
    assert data["period"]["start"].startswith("1970-01-01")
    rest = build_oversight(Ledger(home), *report_period(None, None))
    assert rest["period"]["start"] == data["period"]["start"]
    assert report_period(None, None)[0] == EPOCH
    assert rest["events_by_action"] == data["events_by_action"]


def test_report_accepts_today(home, tmp_path):
    for bounds in (["--from", "today"], ["--from", "today", "--to", "today"],
                   ["--to", "TODAY"]):
        out = tmp_path / "-".join(bounds)
        result = _run("report", "--home", home.root, *bounds, "--out", out)
        assert result.exit_code == 0, (bounds, result.output)
        data = json.loads((out / "oversight.json").read_text())
        assert data["candidates"]["total"] == 10, bounds
    tomorrow = _run("report", "--home", home.root, "--from", "2999-01-01", "--out", tmp_path)
    assert tomorrow.exit_code == 2 and "--to" in tomorrow.output


def test_report_help_names_the_default_period():
    text = _run("report", "--help").output
    assert "today" in text and "default" in text and "--from" in text
