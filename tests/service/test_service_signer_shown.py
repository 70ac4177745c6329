"""The auditor page and `GET /v1/policy/status` say which kind of key signs the ledger (over a
real HTTP server): the home's own key file is shown as not insider-proof."""

from __future__ import annotations

from contextlib import ExitStack

import httpx
from service_harness import Service, make_keys, serve

from faceaudit.ledger.genesis import init_home
from faceaudit.service.keys import Role


def test_the_auditor_page_says_which_key_signs(tmp_path, monkeypatch):
    monkeypatch.delenv("FACEAUDIT_SIGNING_KEY", raising=False)
    home = init_home(tmp_path / "home")
    with ExitStack() as stack:
        service = Service(stack.enter_context(serve(home)), home, make_keys(home))
        with service.client(Role.AUDITOR) as client:
            status = client.get("/v1/policy/status").json()
        with httpx.Client(base_url=service.url) as client:
            client.post("/auditor/login", data={"key": service.tokens[Role.AUDITOR]})
            page = client.get("/auditor").text
    assert status["signer"]["kind"] == "file-in-home"
    assert 'id="signer-kind">NOT insider-proof' in page
    assert "whoever holds the home" in page
