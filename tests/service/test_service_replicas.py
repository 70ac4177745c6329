"""Two service replicas (real uvicorn servers, each with its own Deployment) on one PostgreSQL
gallery and ledger: what one writes the other serves, and the ledger stays one chain."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

from conftest import ROOMY
from service_harness import (
    Service,
    faces_small,
    fake_calibration,
    make_keys,
    register_passing_audit,
    serve,
)

from faceaudit.deployment.operations import Deployment
from faceaudit.ledger import Ledger
from faceaudit.ledger.genesis import init_home
from faceaudit.service.keys import Role


def test_replicas_share_the_gallery_and_append_to_one_ledger(tmp_path: Path, postgres_url):
    home = init_home(tmp_path / "home", postgres_url)
    register_passing_audit(home, "dlib-resnet:1")
    tokens = make_keys(home)
    mdtf = faces_small() / "mdtf-cc-by-2.0"
    with ExitStack() as stack:
        a, b = (Service(stack.enter_context(serve(
            home, ROOMY, Deployment(home, calibration=fake_calibration()))), home, tokens)
            for _ in range(2))
        with a.client(Role.ENROLLER) as client:
            for subject, image in (("p1", "1.png"), ("p2", "3.png")):
                response = client.post(
                    "/v1/subjects", data={"subject_id": subject, "basis": "consent",
                                          "evidence": f"form-{subject}"},
                    files=[("images", (image, (mdtf / image).read_bytes(), "image/png"))])
                assert response.status_code == 201, response.text
        with b.client(Role.OPERATOR) as client:  # the other replica finds what A enrolled
            found = client.post("/v1/identify", data={"purpose": "p", "case": "c"},
                                files={"image": ("2.png", (mdtf / "2.png").read_bytes())})
            assert found.status_code == 200, found.text
            assert found.json()["faces"][0]["candidates"][0]["subject_id"] == "p1"
        with b.client(Role.ADMIN) as client:
            assert client.delete("/v1/subjects/p1").status_code == 200
        with a.client(Role.OPERATOR) as client:  # and A no longer finds what B erased
            found = client.post("/v1/identify", data={"purpose": "p", "case": "c"},
                                files={"image": ("2.png", (mdtf / "2.png").read_bytes())})
            candidates = found.json()["faces"][0]["candidates"]
            assert "p1" not in [c["subject_id"] for c in candidates]
        with a.client(Role.AUDITOR) as client:
            verified = client.get("/v1/ledger/verify").json()
    assert verified["ok"] is True
    assert not home.db_path.exists() and not home.ledger_path.exists()  # all in PostgreSQL
    actions = [e["action"] for e in Ledger(home).events() if e["action"] != "intent"]
    assert actions.count("enrol") == 2 and actions.count("identify") == 2
    assert actions.count("erase") == 1
