import json

from typer.testing import CliRunner

from faceaudit.ledger import Ledger
from faceaudit.policy.command import policy_app

runner = CliRunner()


def _run(*args):
    return runner.invoke(policy_app, [str(a) for a in args])


def test_show_default_policy(home):
    result = _run("show", "--home", home.root)
    assert result.exit_code == 0
    assert json.loads(result.output)["source"] == "default"


def test_set_valid_policy_installs_and_logs(home, tmp_path):
    file = tmp_path / "p.toml"
    file.write_text("max_candidates = 4\n")
    result = _run("set", str(file), "--home", home.root, "--actor", "admin")
    assert result.exit_code == 0, result.output
    assert home.policy_path.read_text() == "max_candidates = 4\n"
    assert json.loads(_run("show", "--home", home.root).output)["max_candidates"] == 4
    genesis, event = Ledger(home).events()
    assert genesis["action"] == "init"
    assert event["action"] == "policy_change" and event["actor"] == "admin"


def test_set_invalid_policy_exits_2_and_changes_nothing(home, tmp_path):
    file = tmp_path / "p.toml"
    file.write_text("max_candidates = 4\nshow_ethnicity = true\n")
    result = _run("set", str(file), "--home", home.root)
    assert result.exit_code == 2 and "unknown policy key" in result.output
    assert not home.policy_path.exists()
    assert [e["action"] for e in Ledger(home).events()] == ["init"]
    missing = _run("set", str(tmp_path / "nope.toml"), "--home", home.root)
    assert missing.exit_code == 2


def test_register_audit_command(home, report_factory):
    result = _run("register-audit", str(report_factory(fmr_ratio=3.0)), "--home", home.root,
                  "--actor", "auditor")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["gate"] == {"passed": False, "rule": "audit-fmr-ratio",
                           "detail": "fmr_ratio 3 exceeds the policy's 2"}
    bad = _run("register-audit", str(home.root / "missing.json"), "--home", home.root)
    assert bad.exit_code == 2
