"""The library's ``Deployment.verify`` under a policy requiring a PAD audit (issue 25): refused
with a named rule and a ``refused`` event until a passing signed PAD audit of the policy's PAD
system is registered; ``identify`` runs regardless; the transparency report's audits in force
show the PAD audit's ratios recomputed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import audit_evidence
import pytest
from conftest import make_calibration
from pad_evidence import SYSTEM, pad_report

from faceaudit.deployment.operations import Deployment
from faceaudit.deployment.transparency import build_transparency
from faceaudit.ledger import Ledger
from faceaudit.policy import PolicyRefusal

REQUIRE = f'require_pad_audit = true\npad_system = "{SYSTEM}"\n'


def test_verify_refused_then_allowed_by_the_pad_audit(home, tmp_path, mdtf):
    auditor = audit_evidence.Auditor(tmp_path / "auditor")
    auditor.trust(home, REQUIRE)
    auditor.register(home, audit_evidence.make_report())
    deployment = Deployment(home, calibration=make_calibration())
    pair = {"image_a": mdtf / "1.png", "image_b": mdtf / "2.png", "purpose": "payment"}
    with pytest.raises(PolicyRefusal) as info:
        deployment.verify(actor="teller", **pair)
    assert info.value.rule == "pad-audit-missing"
    refused = [e for e in Ledger(home).events() if e["action"] == "refused"][-1]
    assert refused["result"] == {**refused["result"], "rule": "pad-audit-missing",
                                 "operation": "verify"}
    deployment.identify(actor="officer", image=mdtf / "2.png", purpose="p", case="c")

    registered = auditor.register(home, pad_report(tmp_path / "pad"))
    assert registered["gate"]["passed"] and registered["pad_system"] == SYSTEM
    assert deployment.verify(actor="teller", **pair)["match"] is True
    event = [e for e in Ledger(home).events() if e["action"] == "verify"][-1]
    assert event["result"]["gate"]["pad_audit_id"] == registered["audit_id"]

    now = datetime.now(UTC)
    report = build_transparency(home, now - timedelta(days=1), now + timedelta(days=1),
                                unit="year")
    audits = report["audits_in_force"][-1]["audits"]
    pad = [a for a in audits if a["mode"] == "pad"]
    assert pad and pad[0]["passes_policy_now"] and "bpcer_ratio" in pad[0]["ratios"]
