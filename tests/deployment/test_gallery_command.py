"""The gallery, identify and review commands through Typer's CliRunner."""

from __future__ import annotations

import json
from importlib import resources

import pytest
from typer.testing import CliRunner

from faceaudit.cli import app
from faceaudit.engine.calibration import shipped_calibration_name
from faceaudit.ledger import Ledger

runner = CliRunner()


def run(*args: str):
    """Run a gallery/identify/review command asking for its JSON (docs/cli.md)."""
    return runner.invoke(app, [*args, "--json"], env={"FACEAUDIT_ACTOR": "cli-user"})


def test_enrol_list_erase_purge(home, mdtf):
    h = str(home.root)
    done = run("gallery", "enrol", str(mdtf / "1.png"), str(mdtf / "2.png"), "--subject", "p1",
               "--basis", "consent", "--evidence", "form-1", "--name", "P One", "--home", h)
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["templates"] == 2
    run("gallery", "enrol", str(mdtf / "3.png"), "--subject", "p2", "--basis", "consent",
        "--evidence", "form-2", "--expires", "2999-01-01", "--home", h)
    listed = json.loads(run("gallery", "list", "--home", h).stdout)
    assert [s["subject_id"] for s in listed] == ["p1", "p2"]
    assert listed[0]["display_name"] == "P One"
    assert listed[1]["consents"][0]["expires_at"] == "2999-01-01T00:00:00+00:00"
    erased = run("gallery", "erase", "p1", "--home", h, "--actor", "dpo")
    assert erased.exit_code == 0 and json.loads(erased.stdout)["templates"] == 2
    assert json.loads(run("gallery", "purge", "--home", h).stdout)["subjects"] == []
    genesis, *events = Ledger(home).events()
    assert genesis["action"] == "init"
    events = [e for e in events if e["action"] != "intent"]
    assert [e["action"] for e in events] == ["enrol", "enrol", "erase", "purge"]
    assert events[0]["actor"] == "cli-user" and events[2]["actor"] == "dpo"


def test_typed_errors_exit_2_with_one_line(home, mdtf, faces_small):
    h = str(home.root)
    group = run("gallery", "enrol", str(faces_small / "group/insightface_t1.jpg"), "--subject",
                "g", "--basis", "consent", "--evidence", "f", "--home", h)
    assert group.exit_code == 2
    assert group.stderr.count("\n") == 1 and "faces found" in group.stderr
    missing = run("gallery", "erase", "nobody", "--home", h)
    assert missing.exit_code == 2 and "nobody" in missing.stderr
    bad_date = run("gallery", "enrol", str(mdtf / "1.png"), "--subject", "x", "--basis", "c",
                   "--evidence", "f", "--expires", "soon", "--home", h)
    assert bad_date.exit_code == 2


def test_identify_refused_without_audit_exits_5(home, mdtf):
    refused = run("identify", str(mdtf / "2.png"), "--purpose", "p", "--case", "c",
                  "--home", str(home.root))
    assert refused.exit_code == 5 and "no-audit" in refused.stderr
    assert [e["action"] for e in Ledger(home).events()] == ["init", "refused"]


def test_identify_then_review(audited_home, mdtf):
    if not (resources.files("faceaudit") / "data" / shipped_calibration_name(
            "dlib-resnet:1")).is_file():
        pytest.skip("the dlib-resnet calibration is not shipped in this checkout")
    h = str(audited_home.root)
    run("gallery", "enrol", str(mdtf / "1.png"), "--subject", "p1", "--basis", "consent",
        "--evidence", "form-1", "--home", h)
    found = run("identify", str(mdtf / "2.png"), "--purpose", "p", "--case", "c", "--home", h)
    assert found.exit_code == 0, found.output
    result = json.loads(found.stdout)
    assert result["faces"][0]["candidates"][0]["subject_id"] == "p1"
    by = ["--result", result["result_id"], "--face", "0", "--candidate", "p1"]
    both = run("review", "decide", *by, "--confirm", "--reject", "--home", h)
    assert both.exit_code == 2
    done = run("review", "decide", *by, "--reject", "--actor", "sgt-b", "--note", "no",
               "--home", h)
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["your_decision"] == "reject"
    shown = run("review", "show", json.loads(done.stdout)["task_id"], "--actor", "sgt-c",
                "--home", h)
    assert shown.exit_code == 0 and "reject" not in shown.stdout and "sgt-b" not in shown.stdout


def test_urgent_identify_held_then_authorised_through_the_cli(audited_home, mdtf, tmp_path):
    from faceaudit.policy.enforce import install_policy

    h = str(audited_home.root)
    policy = tmp_path / "police.toml"
    policy.write_text(audited_home.policy_path.read_text() + '\n[authorisation]\n'
                      'required_for = ["identify"]\noffence_required_for = ["identify"]\n'
                      'offences = ["robbery"]\n')
    install_policy(audited_home, Ledger(audited_home), policy, "admin")
    run("gallery", "enrol", str(mdtf / "1.png"), "--subject", "p1", "--basis", "consent",
        "--evidence", "form-1", "--home", h)
    missing = run("identify", str(mdtf / "2.png"), "--purpose", "p", "--case", "c", "--home", h)
    assert missing.exit_code == 5 and "authorisation-missing" in missing.stderr
    assert "offence" in missing.stderr
    bad_kind = run("identify", str(mdtf / "2.png"), "--purpose", "p", "--case", "c",
                   "--authorisation", "U-1", "--authority", "Insp. Hale",
                   "--authorisation-kind", "hunch", "--offence", "robbery", "--home", h)
    assert bad_kind.exit_code == 2 and "warrant" in bad_kind.stderr
    urgent = run("identify", str(mdtf / "2.png"), "--purpose", "p", "--case", "c",
                 "--authorisation", "U-1", "--authority", "Insp. Hale",
                 "--authorisation-kind", "urgent", "--offence", "robbery", "--home", h)
    assert urgent.exit_code == 0, urgent.output
    found = json.loads(urgent.stdout)
    assert found["faces"] == [] and found["held_until"]
    held = json.loads(run("authorisation", "held", "--home", h).stdout)["held"]
    assert [x["result_id"] for x in held] == [found["result_id"]]
    granted = run("authorisation", "record", found["result_id"], "--granted",
                  "--reference", "W-7", "--authority", "District Court", "--home", h)
    assert granted.exit_code == 0, granted.output
    assert json.loads(run("authorisation", "held", "--home", h).stdout)["held"] == []
