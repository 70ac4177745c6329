"""A deployment whose policy adopts the worst-group threshold (issue 24) verifies and
identifies at the threshold its registered audit recommends, not at the calibrated one, and
each verify and identify event records it (``threshold``, and the gate record's
``threshold``: rule, value, audit); the library and the CLI alike."""

from __future__ import annotations

import json

import numpy as np
import pytest
from audit_evidence import Auditor
from typer.testing import CliRunner
from worst_group_data import as_model_audit, audited_points

from faceaudit.cli import app
from faceaudit.deployment.operations import Deployment
from faceaudit.ledger import Ledger
from faceaudit.policy import install_policy

# both groups' false matches spread over 0.4 – 0.9 alike: the worst-group threshold at
# FMR 1e-2 lands near 0.54, far below the calibrated one (the mdtf impostors, ≤ 0.88, match)
SPREAD = {"male": list(np.linspace(0.4, 0.9, 40)), "female": list(np.linspace(0.4, 0.9, 40))}


@pytest.fixture(scope="module")
def spread(tmp_path_factory):
    return audited_points(tmp_path_factory.mktemp("spread"), SPREAD)


def _install(home, auditor: Auditor, tmp_path, threshold: str) -> None:
    path = tmp_path / f"policy-{threshold}.toml"
    path.write_text(f'fmr_target = 0.01\nthreshold = "{threshold}"\n'
                    + auditor.policy_text('on_inconclusive = "allow"'))
    install_policy(home, Ledger(home), path, "admin")


def _adopted(report) -> float:
    return report["operating_points"][0]["recommended_threshold"]


def _last(home, action):
    return [e for e in Ledger(home).events() if e["action"] == action][-1]


def test_verify_and_identify_run_at_the_adopted_threshold_and_record_it(
        home, tmp_path, spread, calibration, mdtf):
    auditor = Auditor(tmp_path / "auditor")
    _install(home, auditor, tmp_path, "calibrated")
    audit = auditor.register(home, as_model_audit(spread))
    deployment = Deployment(home, calibration=calibration)
    deployment.enrol(actor="clerk", subject_id="p1", images=[mdtf / "1.png"], basis="consent",
                     evidence="form")
    calibrated = deployment.verify(actor="a", image_a=mdtf / "3.png", image_b=mdtf / "6.png",
                                   purpose="p")
    assert not calibrated["match"]
    assert calibrated["threshold"] == round(calibration.threshold_for(0.01), 6)
    assert "threshold" not in _last(home, "verify")["result"]["gate"]
    found = deployment.identify(actor="o", image=mdtf / "3.png", purpose="p", case="c")
    assert found["faces"][0]["candidates"] == []

    _install(home, auditor, tmp_path, "worst-group")
    deployment = Deployment(home, calibration=calibration)
    adopted = _adopted(spread)
    assert adopted < calibrated["score"] < calibration.threshold_for(0.01)
    other = deployment.verify(actor="a", image_a=mdtf / "3.png", image_b=mdtf / "6.png",
                              purpose="p")
    assert other["match"] and other["threshold"] == round(adopted, 6)
    event = _last(home, "verify")
    assert event["threshold"] == adopted
    assert event["result"]["gate"]["threshold"] == {
        "rule": "worst-group", "value": adopted, "audit_id": audit["audit_id"]}
    found = deployment.identify(actor="o", image=mdtf / "3.png", purpose="p", case="c")
    assert found["threshold"] == round(adopted, 6)
    assert [c["subject_id"] for c in found["faces"][0]["candidates"]] == ["p1"]
    event = _last(home, "identify")
    assert event["threshold"] == adopted
    assert event["result"]["gate"]["threshold"]["value"] == adopted


def test_the_cli_identifies_at_the_adopted_threshold(home, tmp_path, spread, mdtf):
    """Through the CLI (the shipped calibration): refused without the grid, then the
    adopted threshold is the one searched and recorded."""
    auditor = Auditor(tmp_path / "auditor")
    _install(home, auditor, tmp_path, "worst-group")
    h = ["--home", str(home.root)]
    runner = CliRunner()
    env = {"FACEAUDIT_ACTOR": "cli-user"}
    enrolled = runner.invoke(app, ["gallery", "enrol", str(mdtf / "1.png"), "--subject-id", "p1",
                                   "--basis", "consent", "--evidence", "f", *h, "--json"],
                             env=env)
    assert enrolled.exit_code == 0, enrolled.output
    search = ["identify", str(mdtf / "3.png"), "--purpose", "p", "--case", "c", *h, "--json"]
    auditor.register(home, as_model_audit(spread, points=False))
    refused = runner.invoke(app, search, env=env)
    assert refused.exit_code == 5 and "worst-group-threshold-missing" in refused.stderr
    auditor.register(home, as_model_audit(spread))
    found = runner.invoke(app, search, env=env)
    assert found.exit_code == 0, found.output
    result = json.loads(found.stdout)
    assert result["threshold"] == round(_adopted(spread), 6)
    assert _last(home, "identify")["threshold"] == _adopted(spread)
