import json

from typer.testing import CliRunner

from faceaudit.cli.policy import policy_app
from faceaudit.ledger import Ledger

runner = CliRunner()


def _run(*args):
    return runner.invoke(policy_app, [str(a) for a in args])


def test_show_default_policy(home):
    result = _run("show", "--json", "--home", home.root)
    assert result.exit_code == 0
    assert json.loads(result.output)["source"] == "default"


def test_set_valid_policy_installs_and_logs(home, tmp_path):
    file = tmp_path / "p.toml"
    file.write_text("max_candidates = 4\n")
    result = _run("set", str(file), "--home", home.root, "--actor", "admin")
    assert result.exit_code == 0, result.output
    assert home.policy_path.read_text() == "max_candidates = 4\n"
    assert json.loads(_run("show", "--json", "--home", home.root).output)["max_candidates"] == 4
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
    path = report_factory(fmr={"female": 0.003, "male": 0.001})
    result = _run("register-audit", str(path), "--json", "--home", home.root, "--actor",
                  "auditor")
    assert result.exit_code == 3, result.output  # registered, but the bias gate fails
    assert result.stderr.splitlines() == [
        f"faceaudit: error: registered, but the audit fails the policy's bias gate:"
        f" audit-fmr-ratio ({path})"]
    out = json.loads(result.stdout)
    assert out["gate"]["passed"] is False and out["gate"]["rule"] == "audit-fmr-ratio"
    assert "fmr_ratio 3 [2.92, 3.09] fail against 2 at FMR 0.001" in (
        out["gate"]["detail"])
    bad = _run("register-audit", str(home.root / "missing.json"), "--home", home.root)
    assert bad.exit_code == 2


def test_register_audit_command_refuses_with_exit_5_and_logs(home, report_factory):
    unsigned = report_factory(signed=False)
    result = _run("register-audit", str(unsigned), "--home", home.root, "--actor", "mallory")
    assert result.exit_code == 5
    assert "audit-unsigned" in result.output
    last = list(Ledger(home).events())[-1]
    assert last["action"] == "refused" and last["actor"] == "mallory"
    assert last["result"]["rule"] == "audit-unsigned"
    assert last["result"]["operation"] == "register-audit"


def test_status_says_in_one_sentence_whether_identification_is_allowed(home, report_factory):
    refused = _run("status", "--home", home.root, "--backend", "dlib-resnet:1")
    assert refused.exit_code == 5
    sentence, signer = refused.output.strip().split("\n")
    assert sentence == ("Identification with dlib-resnet:1 is refused now "
                        "(no-audit): no registered audit of dlib-resnet:1.")
    assert signer.startswith("Ledger heads are signed by ") and "insider-proof" in signer
    registered = json.loads(_run("register-audit", str(report_factory()), "--json", "--home",
                                 home.root).output)
    allowed = _run("status", "--home", home.root, "--backend", "dlib-resnet:1")
    assert allowed.exit_code == 0, allowed.output
    assert allowed.output.startswith("Identification with dlib-resnet:1 is allowed now: audit "
                                     f"{registered['audit_id']}")
    assert f"ledger event {registered['seq']}" in allowed.output
    full = json.loads(_run("status", "--home", home.root, "--backend", "dlib-resnet:1",
                           "--json").output)
    assert full["allowed"] is True and full["audit_id"] == registered["audit_id"]
