"""``faceaudit policy trust-key`` / ``untrust-key``: trusting an auditor key is a logged policy
change made by a command, not a hand edit of policy.toml (issue 26)."""

import json
from pathlib import Path

from audit_evidence import make_report, write_report
from typer.testing import CliRunner

from faceaudit.audit.signing import generate_auditor_key, sign_report
from faceaudit.cli.policy import policy_app
from faceaudit.ledger import Ledger
from faceaudit.policy import load_policy

runner = CliRunner()


def _run(*args):
    return runner.invoke(policy_app, [str(a) for a in args])


def test_trust_key_lets_a_signed_audit_register_and_untrust_key_stops_it(home, tmp_path):
    keys = generate_auditor_key(tmp_path / "auditor")
    report = write_report(tmp_path / "r" / "report.json", make_report())
    sign_report(report, tmp_path / "auditor" / "auditor.key")
    untrusted = _run("register-audit", report, "--home", home.root)
    assert untrusted.exit_code == 5 and "audit-untrusted-key" in untrusted.output

    trusted = _run("trust-key", keys["public_key"], "--json", "--home", home.root,
                   "--actor", "dpo")
    assert trusted.exit_code == 0, trusted.output
    assert json.loads(trusted.stdout)["bias_gate"]["trusted_auditor_keys"] == [
        keys["policy_entry"]]
    change = list(Ledger(home).events())[-1]
    assert change["action"] == "policy_change" and change["actor"] == "dpo"
    registered = _run("register-audit", report, "--json", "--home", home.root)
    assert registered.exit_code == 0, registered.output

    again = _run("trust-key", keys["policy_entry"], "--home", home.root)
    assert again.exit_code == 2 and "already trusts" in again.stderr
    assert again.stderr.startswith("faceaudit: error: ")

    removed = _run("untrust-key", keys["policy_entry"], "--home", home.root)
    assert removed.exit_code == 0, removed.output
    assert load_policy(home).bias_gate.trusted_auditor_keys == ()
    assert [e["action"] for e in Ledger(home).events()].count("policy_change") == 2
    refused = _run("register-audit", report, "--home", home.root)
    assert refused.exit_code == 5 and "audit-untrusted-key" in refused.output


def test_trust_key_keeps_the_rest_of_the_policy_as_written(home, tmp_path):
    file = tmp_path / "p.toml"
    file.write_text("# ours\nmax_candidates = 4\n\n[bias_gate]\nmax_fmr_ratio = 1.5\n")
    assert _run("set", file, "--home", home.root).exit_code == 0
    keys = generate_auditor_key(tmp_path / "auditor")
    assert _run("trust-key", keys["public_key"], "--home", home.root).exit_code == 0
    text = home.policy_path.read_text()
    assert text.startswith("# ours\nmax_candidates = 4\n")
    policy = load_policy(home)
    assert policy.max_candidates == 4 and policy.bias_gate.max_fmr_ratio == 1.5
    assert policy.bias_gate.trusted_auditor_keys == (keys["policy_entry"],)


def test_a_bad_key_is_one_line_naming_it_and_changes_nothing(home, tmp_path):
    before = list(Ledger(home).events())
    bad = tmp_path / "not-a-key.pub"
    bad.write_text("hello\n")
    for arg in (bad, tmp_path / "missing.pub", "ed25519:!!!"):
        result = _run("trust-key", arg, "--home", home.root)
        assert result.exit_code == 2, result.output
        assert result.stderr.startswith("faceaudit: error: ") and str(arg) in result.stderr
        assert len(result.stderr.splitlines()) == 1
    assert list(Ledger(home).events()) == before
    assert not home.policy_path.exists()


EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "policy.toml"


def test_the_example_policy_installs_and_its_sample_key_line_uncomments_into_bias_gate(
        home, tmp_path):
    assert _run("set", EXAMPLE, "--home", home.root).exit_code == 0
    policy = load_policy(home)
    assert policy.bias_gate.require_identification_audit is False  # the quick start's 1:1 audit
    sample = next(line for line in EXAMPLE.read_text().splitlines()
                  if line.startswith("# trusted_auditor_keys = ["))
    uncommented = tmp_path / "p.toml"
    uncommented.write_text(EXAMPLE.read_text().replace(sample, sample.removeprefix("# ")))
    result = _run("set", uncommented, "--json", "--home", home.root)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["bias_gate"]["trusted_auditor_keys"] == [
        sample.split('"')[1]]
    keys = generate_auditor_key(tmp_path / "auditor")
    assert _run("trust-key", keys["public_key"], "--home", home.root).exit_code == 0
    assert len(load_policy(home).bias_gate.trusted_auditor_keys) == 2


def test_policy_init_writes_the_starter_policy_which_installs(home, tmp_path):
    out = tmp_path / "policy.toml"
    result = _run("init", out)
    assert result.exit_code == 0, result.output
    assert out.read_text() == EXAMPLE.read_text()  # the starter policy is the documented example
    assert _run("set", out, "--home", home.root).exit_code == 0
    assert load_policy(home).fmr_target == 0.001
    again = _run("init", out)
    assert again.exit_code == 2 and again.stderr.startswith("faceaudit: error: ")
    assert str(out) in again.stderr and "already exists" in again.stderr


def test_policy_init_waive_writes_a_policy_that_waives_the_gate_out_loud(home, tmp_path):
    out = tmp_path / "policy.toml"
    reason = "evaluation: no audit of this engine on our data yet — «quoted» \"too\""
    assert _run("init", out, "--waive", reason).exit_code == 0
    assert _run("set", out, "--home", home.root).exit_code == 0
    assert load_policy(home).bias_gate.waived_because == reason
    status = _run("status", "--json", "--home", home.root)
    assert status.exit_code == 0, status.output
    answer = json.loads(status.stdout)
    assert answer["allowed"] is True and answer["waived"] is True and reason in answer["detail"]
    empty = _run("init", tmp_path / "other.toml", "--waive", "  ")
    assert empty.exit_code == 2 and "--waive" in empty.stderr
    assert not (tmp_path / "other.toml").exists()
