"""Over HTTP, a policy adopting the worst-group threshold (issue 24): registering an audit
shows the threshold it is judged at, ``/v1/verify`` runs at it and the event records it; an
audit without the ``operating_points`` grid refuses verify by name (403 problem+json)."""

from __future__ import annotations

import json

import numpy as np
from audit_evidence import Auditor
from service_harness import Service, faces_small
from worst_group_data import as_model_audit, audited_points

from faceaudit.ledger import Ledger
from faceaudit.policy import install_policy
from faceaudit.service.keys import Role

SPREAD = {"male": list(np.linspace(0.4, 0.9, 40)), "female": list(np.linspace(0.4, 0.9, 40))}


def _signed(auditor: Auditor, tmp_path, report: dict) -> dict:
    path = tmp_path / f"r{len(list(tmp_path.glob('r*')))}" / "report.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(report))
    return {"report": ("report.json", path.read_bytes()),
            "signature": ("report.json.sig", auditor.sign(path).read_bytes())}


def test_verify_over_http_runs_at_the_adopted_threshold(service: Service, tmp_path) -> None:
    auditor = Auditor(tmp_path / "key")
    policy = tmp_path / "policy.toml"
    policy.write_text('fmr_target = 0.01\nthreshold = "worst-group"\n'
                      + auditor.policy_text('on_inconclusive = "allow"'))
    install_policy(service.home, Ledger(service.home), policy, "admin")
    real = audited_points(tmp_path / "audit", SPREAD)
    adopted = real["operating_points"][0]["recommended_threshold"]
    mdtf = faces_small() / "mdtf-cc-by-2.0"
    pair = {"data": {"purpose": "fraud check"},
            "files": {"image_a": ("3.png", (mdtf / "3.png").read_bytes()),
                      "image_b": ("6.png", (mdtf / "6.png").read_bytes())}}
    with service.client(Role.AUDITOR) as auditor_client, \
            service.client(Role.OPERATOR) as operator:
        bare = auditor_client.post("/v1/audits/register", files=_signed(
            auditor, tmp_path, as_model_audit(real, points=False)))
        assert bare.status_code == 201, bare.text
        assert bare.json()["gate"]["rule"] == "worst-group-threshold-missing"
        refused = operator.post("/v1/verify", **pair)
        assert refused.status_code == 403, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["rule"] == "worst-group-threshold-missing"

        registered = auditor_client.post("/v1/audits/register", files=_signed(
            auditor, tmp_path, as_model_audit(real)))
        assert registered.status_code == 201, registered.text
        gate = registered.json()["gate"]
        assert gate["passed"] is True, gate
        assert gate["recomputed"]["worst_group_threshold"] == adopted
        verified = operator.post("/v1/verify", **pair)
        assert verified.status_code == 200, verified.text
        body = verified.json()
        assert body["threshold"] == round(adopted, 6) and body["match"] is True
    event = [e for e in Ledger(service.home).events() if e["action"] == "verify"][-1]
    assert event["threshold"] == adopted
    assert event["result"]["gate"]["threshold"]["value"] == adopted
