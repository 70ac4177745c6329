"""Over HTTP, the bias gate decides on intervals: a registered real audit of 35 + 35
identities whose point FMR ratio is 11.8 is inconclusive, so identify is refused (403,
``audit-inconclusive``, the numbers in the status sentence); a newer audit whose whole interval
is within the limit allows it again."""

from __future__ import annotations

import json

from audit_evidence import Auditor, make_report
from service_harness import Service, faces_small
from verdict_data import as_model_audit, audited

from faceaudit.service.keys import Role


def _signed(auditor: Auditor, tmp_path, report: dict) -> dict:
    path = tmp_path / f"r{len(list(tmp_path.glob('r*')))}" / "report.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(report))
    return {"report": ("report.json", path.read_bytes()),
            "signature": ("report.json.sig", auditor.sign(path).read_bytes())}


def test_inconclusive_audit_refuses_identify_over_http(service: Service, tmp_path) -> None:
    auditor = Auditor(tmp_path / "key")
    auditor.trust(service.home)
    small = as_model_audit(audited("small", tmp_path / "audit"))
    image = (faces_small() / "mdtf-cc-by-2.0" / "2.png").read_bytes()
    search = {"data": {"purpose": "fraud check", "case": "C-17"},
              "files": {"image": ("2.png", image)}}
    with service.client(Role.AUDITOR) as auditor_client, \
            service.client(Role.OPERATOR) as operator:
        registered = auditor_client.post("/v1/audits/register",
                                         files=_signed(auditor, tmp_path, small))
        assert registered.status_code == 201, registered.text
        gate = registered.json()["gate"]
        assert gate["passed"] is False and gate["rule"] == "audit-inconclusive"
        ratios = {r["name"]: r for r in gate["recomputed"]["ratios"]}
        assert ratios["fmr_ratio"]["verdict"] == "inconclusive"
        assert ratios["fmr_ratio"]["low"] < 2 < ratios["fmr_ratio"]["high"]
        refused = operator.post("/v1/identify", **search)
        assert refused.status_code == 403
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["rule"] == "audit-inconclusive"
        status = operator.get("/v1/policy/status").json()
        assert status["allowed"] is False and status["rule"] == "audit-inconclusive"
        assert "fmr_ratio 11.8 [" in status["sentence"]

        within = auditor_client.post("/v1/audits/register",
                                     files=_signed(auditor, tmp_path, make_report()))
        assert within.status_code == 201 and within.json()["gate"]["passed"] is True
        assert operator.post("/v1/identify", **search).status_code == 200
        status = operator.get("/v1/policy/status").json()
        assert status["allowed"] is True and "pass against 2" in status["sentence"]


def test_audit_job_gives_verdicts_and_the_worst_group_threshold(service: Service,
                                                               tmp_path) -> None:
    import time

    from verdict_data import write_large_audit

    table = write_large_audit(tmp_path / "large.csv").read_bytes()
    with service.client(Role.AUDITOR) as client:
        started = client.post("/v1/audits", data={
            "fmr": "1e-2", "bootstrap": "200", "operating_points": "true",
            "fail_if": ["fmr_ratio>2", "fnmr_ratio>2"]},
            files={"scores": ("large.csv", table)})
        assert started.status_code == 202, started.text
        deadline = time.monotonic() + 120
        while True:
            status = client.get(f"/v1/audits/{started.json()['job_id']}").json()
            if status["status"] in ("done", "failed") or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    assert status["status"] == "done", status
    report = status["report"]
    assert [r["status"] for r in report["gate"]["rules"]] == ["fail", "pass"]
    assert report["gate"]["verdict"] == "fail"
    (point,) = report["operating_points"]
    assert point["recommended_threshold"] is not None
    assert all(g["fmr"]["high"] <= 1e-2 for g in point["recommended"]["groups"])
