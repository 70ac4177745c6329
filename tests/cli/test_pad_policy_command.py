"""The CLI side of a PAD audit for verify (issue 25): ``audit --pad-scores --pad-system
--sign`` records the PAD system and signs, ``policy register-audit`` registers it under that
system (exit 3 when it fails the policy's PAD limits, 5 unsigned) and ``policy status`` names
the PAD audit in force."""

from __future__ import annotations

import json

from audit_evidence import Auditor
from pad_evidence import SYSTEM, write_pad_table
from typer.testing import CliRunner

from faceaudit.cli import app
from faceaudit.ledger.genesis import init_home

runner = CliRunner()
REQUIRE = f'require_pad_audit = true\npad_system = "{SYSTEM}"\n'


def _audit(tmp_path, auditor, name, *extra, fair=True):
    table = write_pad_table(tmp_path / name / "pad.csv", b_bona_fide_mean=0.8 if fair else 0.0)
    out = tmp_path / name / "report"
    result = runner.invoke(app, ["audit", "--pad-scores", str(table), "--bootstrap", "200",
                                 "--out", str(out), "--sign", str(auditor.key), *extra])
    assert result.exit_code == 0, result.output
    return out / "report.json"


def test_audit_sign_register_and_status(tmp_path):
    home = init_home(tmp_path / "home")
    auditor = Auditor(tmp_path / "auditor")
    auditor.trust(home, REQUIRE)
    h = ["--home", str(home.root)]
    status = runner.invoke(app, ["policy", "status", "--json", "--backend", "dlib-resnet:1", *h])
    assert json.loads(status.stdout)["pad"]["rule"] == "pad-audit-missing"

    report = _audit(tmp_path, auditor, "fair", "--pad-system", SYSTEM)
    assert json.loads(report.read_text())["provenance"]["pad_system"] == SYSTEM
    registered = runner.invoke(app, ["policy", "register-audit", str(report), "--json", *h])
    assert registered.exit_code == 0, registered.output
    body = json.loads(registered.stdout)
    assert body["pad_system"] == SYSTEM and body["gate"]["passed"]
    status = json.loads(runner.invoke(app, ["policy", "status", "--json", "--backend",
                                            "dlib-resnet:1", *h]).stdout)
    assert status["pad"]["allowed"] and status["pad"]["audit_id"] == body["audit_id"]
    assert f"PAD audit {body['audit_id']} of {SYSTEM}" in status["pad"]["sentence"]
    human = runner.invoke(app, ["policy", "status", "--backend", "dlib-resnet:1", *h]).stdout
    assert status["pad"]["sentence"] in human.replace("\n", " ")

    failing = _audit(tmp_path, auditor, "unfair", "--pad-system", SYSTEM, fair=False)
    refused = runner.invoke(app, ["policy", "register-audit", str(failing), *h])
    assert refused.exit_code == 3, refused.output
    assert "audit-bpcer-ratio" in refused.output
    status = json.loads(runner.invoke(app, ["policy", "status", "--json", "--backend",
                                            "dlib-resnet:1", *h]).stdout)
    assert status["pad"]["rule"] == "pad-audit-failed"

    failing.with_name("report.json.sig").unlink()
    unsigned = runner.invoke(app, ["policy", "register-audit", str(failing), *h])
    assert unsigned.exit_code == 5 and "audit-unsigned" in unsigned.output


def test_pad_system_must_be_name_colon_version(tmp_path):
    table = write_pad_table(tmp_path / "pad.csv")
    bad = runner.invoke(app, ["audit", "--pad-scores", str(table), "--bootstrap", "0",
                              "--pad-system", "no version here", "--out", str(tmp_path / "o")])
    assert bad.exit_code == 2 and "NAME:VERSION" in bad.output
    other = runner.invoke(app, ["audit", "--scores", str(table), "--pad-system", SYSTEM,
                                "--out", str(tmp_path / "o2")])
    assert other.exit_code == 2 and "--pad-system" in other.output
