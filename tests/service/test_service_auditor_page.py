"""The auditor's page in real headless Chromium: signs in, renders, no console errors.

Set ``FACEAUDIT_SCREENSHOT=docs/img/auditor.png`` to also save the screenshot there.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from audit_evidence import Auditor
from browser import open_in_chromium, overflowing
from PIL import Image
from service_harness import Service, faces_small, fake_calibration, make_keys, serve
from test_service_audits import _embeddings

from faceaudit.deployment.operations import Deployment
from faceaudit.ledger.genesis import init_home
from faceaudit.service.keys import Role


def _open(url: str, profile: Path, *extra: str) -> tuple[str, list[str]]:
    """Open ``url`` in headless Chromium; return stdout and the console/error lines."""
    return open_in_chromium(url, profile, *extra)


@pytest.fixture(scope="module")
def busy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """A deployment with a real audit, enrolments, searches, a review and a refusal."""
    home = init_home(tmp_path_factory.mktemp("busy"))
    deployment = Deployment(home, calibration=fake_calibration())
    with ExitStack() as stack:
        service = Service(stack.enter_context(serve(home, None, deployment)), home,
                          make_keys(home))
        _populate(service)
        yield service


def _populate(service: Service) -> None:
    images = faces_small() / "mdtf-cc-by-2.0"
    parquet, attributes = _embeddings("dlib-resnet:1")
    auditor = Auditor(service.home.root.parent / "auditor-key")
    # 40 identities per group: the ratios' intervals cross the limits, which this page's
    # deployment accepts
    auditor.trust(service.home, 'on_inconclusive = "allow"\n')
    with service.client(Role.AUDITOR) as client:
        job = client.post("/v1/audits", data={"by": "sex", "fmr": "1e-2,1e-3", "bootstrap": "50"},
                          files={"embeddings": ("emb.parquet", parquet),
                                 "attributes": ("attrs.csv", attributes)}).json()
        while client.get(f"/v1/audits/{job['job_id']}").json()["status"] in ("queued",
                                                                               "running"):
            time.sleep(0.2)
        # the service's own report counts once the auditor has signed its exact bytes
        report = service.home.root.parent / "signed" / "report.json"
        report.parent.mkdir()
        report.write_bytes(client.get(f"/v1/audits/{job['job_id']}/report.json").content)
        registered = client.post("/v1/audits/register", files={
            "report": ("report.json", report.read_bytes()),
            "signature": ("report.json.sig", auditor.sign(report).read_bytes())}).json()
        assert registered["gate"]["passed"], registered
    with service.client(Role.ENROLLER) as client:
        for subject, name in (("s-001", "1.png"), ("s-002", "3.png")):
            client.post("/v1/subjects", data={"subject_id": subject, "basis": "consent",
                                              "evidence": f"form {subject}"},
                        files={"images": (name, (images / name).read_bytes())})
        # one subject enrolled and erased: the page lists the erasure
        client.post("/v1/subjects", data={"subject_id": "s-gone", "basis": "consent",
                                          "evidence": "form s-gone"},
                    files={"images": ("5.png", (images / "5.png").read_bytes())})
        client.delete("/v1/subjects/s-gone", params={"purpose": "subject request"})
    with service.client(Role.OPERATOR) as client:
        response = client.post("/v1/identify", data={"purpose": "fraud check", "case": "C-17"},
                               files={"image": ("2.png", (images / "2.png").read_bytes())})
        assert response.status_code == 200, response.text
        found = response.json()
        client.post("/v1/identify", data={"purpose": "fraud check"},
                    files={"image": ("4.png", (images / "4.png").read_bytes())})
    with service.client(Role.REVIEWER) as client:
        client.post("/v1/reviews", json={"result_id": found["result_id"], "face": 0,
                                         "candidate": found["faces"][0]["candidates"][0][
                                             "subject_id"], "decision": "confirm"})


def test_login_exchanges_key_for_httponly_cookie(busy: Service) -> None:
    with httpx.Client(base_url=busy.url) as client:
        assert client.get("/auditor/login").status_code == 200
        wrong = client.post("/auditor/login", data={"key": busy.tokens[Role.OPERATOR]})
        assert wrong.status_code == 403
        response = client.post("/auditor/login", data={"key": busy.tokens[Role.AUDITOR]})
        assert response.status_code == 303 and response.headers["location"] == "/auditor"
        cookie = response.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        page = client.get("/auditor")
        assert page.status_code == 200 and "Ledger integrity" in page.text
        assert "default-src 'none'" in page.headers["content-security-policy"]
        # The cookie only opens the pages, never the API.
        assert client.get("/v1/ledger/verify").status_code == 401
        client.post("/auditor/logout")
        assert client.get("/auditor").status_code == 303


def test_page_renders_in_headless_chromium(busy: Service, tmp_path: Path) -> None:
    url = f"{busy.url}/auditor/login#key={busy.tokens[Role.AUDITOR]}"
    dom, console = _open(url, tmp_path / "profile", "--dump-dom")
    assert console == []
    assert '<span class="badge ok" id="ledger-status">intact</span>' in dom
    assert "dlib-resnet:1" in dom and "passes the policy" in dom
    assert '<span class="badge ok" id="identification-status">allowed</span>' in dom
    assert "Identification with dlib-resnet:1 is allowed now" in dom
    assert re.search(r"1 confirmed.*1 pending|confirmed</span>", dom, re.S)
    assert "fraud check" in dom and "C-17" in dom
    assert busy.tokens[Role.AUDITOR] not in dom

    shot = tmp_path / "auditor.png"
    _, console = _open(url, tmp_path / "profile2", f"--screenshot={shot}",
                       "--window-size=1280,1250")
    assert console == []
    with Image.open(shot) as img:
        assert img.size == (1280, 1250)
        assert len(img.convert("L").getcolors(maxcolors=1 << 16) or range(256)) > 30
    target = os.environ.get("FACEAUDIT_SCREENSHOT")
    if target:
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, target)


def test_page_without_a_session_sends_the_browser_to_its_sign_in_form(busy: Service) -> None:
    with httpx.Client(base_url=busy.url) as client:
        response = client.get("/auditor")
        assert response.status_code == 303 and response.headers["location"] == "/auditor/login"
        form = client.get("/auditor", follow_redirects=True)
        assert form.status_code == 200 and form.headers["content-type"].startswith("text/html")
        assert 'name="key"' in form.text
        # a sign-in cookie that no longer opens the page: back to the form, not 401 JSON
        client.cookies.set("faceaudit_key", "fa_revoked-or-unknown", path="/auditor")
        assert client.get("/auditor").headers["location"] == "/auditor/login"
    with httpx.Client(base_url=busy.url) as client:
        # an API client sending a wrong key still gets its problem+json
        wrong = client.get("/auditor", headers={"X-API-Key": "fa_not-a-real-key"})
        assert wrong.status_code == 401
        assert wrong.headers["content-type"] == "application/problem+json"
        other = client.get("/auditor", headers={"X-API-Key": busy.tokens[Role.OPERATOR]})
        assert other.status_code == 403


def _page(service: Service) -> str:
    with service.client(Role.AUDITOR) as client:
        response = client.get("/auditor")
    assert response.status_code == 200, response.text
    return response.text


def test_page_counts_are_those_of_ledger_verify(busy: Service) -> None:
    from typer.testing import CliRunner

    from faceaudit.cli.ledger import ledger_app

    page = _page(busy)
    said = CliRunner().invoke(ledger_app, ["verify", "--home", str(busy.home.root)])
    assert said.exit_code == 0, said.output
    summary = said.stdout.splitlines()[0]
    heads = re.search(r"(\d+) signed tree heads verified", summary)
    assert heads and int(heads.group(1)) > 0
    ledger_card = page.split('<section id="ledger">', 1)[1].split("</section>", 1)[0]
    assert html.escape(summary) in ledger_card, (summary, ledger_card)


def test_erasures_are_readable_sentences_not_json(busy: Service) -> None:
    section = _page(busy).split("<h3>Erasures and purges</h3>", 1)[1].split("<h3>", 1)[0]
    assert "s-gone" in section and "1 template" in section
    assert "{" not in section and "&#34;" not in section and "&quot;" not in section


def test_every_card_fits_its_content_at_1280_px(busy: Service, tmp_path: Path) -> None:
    assert overflowing(_page(busy), tmp_path / "layout", "section", 1280) == []
