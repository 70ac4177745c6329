"""The auditor's page and the status route say which audit allows identification, including
the 1:N identification audit and its recomputed FPIR / FNIR ratios."""

from __future__ import annotations

from contextlib import ExitStack

import httpx
from audit_evidence import Auditor, make_identification_report, make_report, write_report
from service_harness import Service, make_keys, serve

from faceaudit.ledger import Ledger
from faceaudit.ledger.genesis import init_home
from faceaudit.policy import register_audit
from faceaudit.service.keys import Role


def test_auditor_page_names_the_identification_audit(tmp_path):
    home = init_home(tmp_path / "home")
    auditor = Auditor(tmp_path / "auditor-key")
    auditor.trust(home, "require_identification_audit = true\n")
    registered = {}
    for name, report in (("one", make_report()), ("ident", make_identification_report(
            fpir={"female": (130, 1000), "male": (100, 1000)}))):
        path = write_report(tmp_path / name / "report.json", report)
        auditor.sign(path)
        registered[name] = register_audit(home, Ledger(home), path, "auditor")
    with ExitStack() as stack:
        service = Service(stack.enter_context(serve(home)), home, make_keys(home))
        with service.client(Role.AUDITOR) as client:
            status = client.get("/v1/policy/status").json()
        assert status["allowed"] is True
        assert status["identification_audit_id"] == registered["ident"]["audit_id"]
        with httpx.Client(base_url=service.url) as client:
            client.post("/auditor/login", data={"key": service.tokens[Role.AUDITOR]})
            page = client.get("/auditor").text
    assert registered["ident"]["audit_id"] in page and "(identification)" in page
    assert "FPIR 1.3" in page and "FNIR 1.1" in page
    assert "max FPIR ratio 2.0" in page and "required" in page
    assert f"The 1:N identification audit {registered['ident']['audit_id']}" in page
