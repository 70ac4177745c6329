"""``POST /v1/verify`` under a policy that requires a PAD audit (issue 25), over real HTTP with
real images and the real model: refused (403, a named rule, a ``refused`` event) until a
passing signed PAD audit of the policy's PAD system is registered with ``POST
/v1/audits/register``; a failing one revokes; ``/v1/identify`` is not affected; a PAD audit
job records the PAD system it was given."""

from __future__ import annotations

import json
import time

import httpx
from audit_evidence import Auditor, make_report
from pad_evidence import SYSTEM, pad_report, write_pad_table
from service_harness import Service, faces_small

from faceaudit.ledger import Ledger
from faceaudit.service.keys import Role

REQUIRE = f'require_pad_audit = true\npad_system = "{SYSTEM}"\n'


def _image(name: str) -> bytes:
    return (faces_small() / "mdtf-cc-by-2.0" / name).read_bytes()


def _signed(auditor: Auditor, folder, report: dict) -> dict:
    path = folder / "report.json"
    folder.mkdir(parents=True)
    path.write_text(json.dumps(report))
    return {"report": ("report.json", path.read_bytes()),
            "signature": ("report.json.sig", auditor.sign(path).read_bytes())}


def _verify(client: httpx.Client) -> httpx.Response:
    return client.post("/v1/verify", data={"purpose": "payment"}, files={
        "image_a": ("1.png", _image("1.png"), "image/png"),
        "image_b": ("2.png", _image("2.png"), "image/png")})


def test_verify_needs_a_passing_signed_pad_audit(service: Service, tmp_path) -> None:
    auditor = Auditor(tmp_path / "key")
    auditor.trust(service.home, REQUIRE)
    search = {"data": {"purpose": "fraud check", "case": "C-17"},
              "files": {"image": ("2.png", _image("2.png"))}}
    with service.client(Role.AUDITOR) as auditor_client, \
            service.client(Role.OPERATOR) as operator:
        one_to_one = auditor_client.post("/v1/audits/register",
                                         files=_signed(auditor, tmp_path / "m", make_report()))
        assert one_to_one.status_code == 201, one_to_one.text
        refused = _verify(operator)
        assert refused.status_code == 403 and refused.json()["rule"] == "pad-audit-missing"
        assert refused.headers["content-type"] == "application/problem+json"
        last = list(Ledger(service.home).events())[-1]
        assert last["action"] == "refused" and last["result"]["rule"] == "pad-audit-missing"
        assert operator.post("/v1/identify", **search).status_code == 200  # not affected
        status = operator.get("/v1/policy/status").json()
        assert status["pad"]["rule"] == "pad-audit-missing"

        unsigned = auditor_client.post("/v1/audits/register", files={
            "report": ("report.json", json.dumps(pad_report(tmp_path / "u")).encode())})
        assert unsigned.status_code == 422 and unsigned.json()["rule"] == "audit-unsigned"

        passing = auditor_client.post("/v1/audits/register", files=_signed(
            auditor, tmp_path / "p", pad_report(tmp_path / "pt")))
        assert passing.status_code == 201, passing.text
        body = passing.json()
        assert body["backend_id"] is None and body["pad_system"] == SYSTEM
        assert body["gate"]["passed"] is True
        allowed = _verify(operator)
        assert allowed.status_code == 200 and allowed.json()["match"] is True
        event = [e for e in Ledger(service.home).events() if e["action"] == "verify"][-1]
        assert event["result"]["gate"]["pad_audit_id"] == body["audit_id"]
        status = operator.get("/v1/policy/status").json()
        assert status["pad"]["audit_id"] == body["audit_id"]
        page = auditor_client.get("/auditor")
        assert page.status_code == 200 and body["audit_id"] in page.text
        shown = auditor_client.get(f"/auditor/audits/{body['audit_id']}/report.html")
        assert shown.status_code == 200

        failing = auditor_client.post("/v1/audits/register", files=_signed(
            auditor, tmp_path / "f", {**pad_report(tmp_path / "ft", fair=False)}))
        assert failing.status_code == 201 and failing.json()["gate"]["passed"] is False
        revoked = _verify(operator)
        assert revoked.status_code == 403 and revoked.json()["rule"] == "pad-audit-failed"


def test_pad_audit_job_records_the_pad_system(service: Service, tmp_path) -> None:
    table = write_pad_table(tmp_path / "pad.csv").read_bytes()
    with service.client(Role.AUDITOR) as client:
        started = client.post("/v1/audits", data={"bootstrap": "20", "pad_system": SYSTEM},
                              files={"pad_scores": ("pad.csv", table)})
        assert started.status_code == 202, started.text
        deadline = time.monotonic() + 60
        while (status := client.get(f"/v1/audits/{started.json()['job_id']}").json())[
                "status"] not in ("done", "failed") and time.monotonic() < deadline:
            time.sleep(0.2)
        bad = client.post("/v1/audits", data={"pad_system": "no version"},
                          files={"pad_scores": ("pad.csv", table)})
    assert status["status"] == "done", status
    assert status["report"]["provenance"]["pad_system"] == SYSTEM
    assert status["result"]["refused"]["rule"] == "audit-unsigned"  # the service never signs
    assert bad.status_code == 422 and "NAME:VERSION" in bad.text
