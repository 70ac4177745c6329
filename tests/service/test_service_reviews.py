"""Per-candidate blind review and leads over real HTTP, with real images and the real model:
two independent reviewers, neither the searcher; each refusal a 403 problem naming its rule,
a ``refused`` event, and nothing recorded."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack

import httpx
import pytest
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
from faceaudit.service.keys import KeyStore, Role


@pytest.fixture
def deployed(tmp_path) -> Iterator[Service]:
    """A service with a passing audit, ``p1`` enrolled from 1.png and ``p3`` from 5.png."""
    home = init_home(tmp_path / "home")
    register_passing_audit(home, "dlib-resnet:1")
    deployment = Deployment(home, calibration=fake_calibration())
    with ExitStack() as stack:
        service = Service(stack.enter_context(serve(home, ROOMY, deployment)), home,
                          make_keys(home))
        for subject, image in (("p1", "1.png"), ("p3", "5.png")):
            with service.client(Role.ENROLLER) as client:
                assert client.post("/v1/subjects", data={
                    "subject_id": subject, "basis": "consent", "evidence": "f"},
                    files=[("images", (image, _image(image), "image/png"))]).status_code == 201
        yield service


def _image(name: str) -> bytes:
    return (faces_small() / "mdtf-cc-by-2.0" / name).read_bytes()


def _identify(service: Service, image: str) -> dict:
    with service.client(Role.OPERATOR) as client:
        response = client.post("/v1/identify", data={"purpose": "test", "case": "c-9"},
                               files={"image": (image, _image(image), "image/png")})
    assert response.status_code == 200, response.text
    return response.json()


def _as(service: Service, role: str, actor: str) -> httpx.Client:
    """A client with a new key of ``role`` for ``actor``."""
    token = KeyStore(service.home).create(role, actor)[1]
    return httpx.Client(base_url=service.url, headers={"X-API-Key": token}, timeout=120)


def _refused(client: httpx.Client, service: Service, method: str, path: str, body: dict,
             rule: str, kind: str = "review-refused") -> None:
    """The request is a 403 problem naming ``rule``, a ``refused`` event is logged, and no
    decision or lead record was written."""
    before = [e for e in Ledger(service.home).events()]
    response = client.request(method, path, json=body)
    assert response.status_code == 403, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith(f"/{kind}") and response.json()["rule"] == rule
    after = list(Ledger(service.home).events())
    assert len(after) == len(before) + 1
    assert after[-1]["action"] == "refused" and after[-1]["result"]["rule"] == rule


def test_two_blind_reviewers_over_rest(deployed: Service) -> None:
    found = _identify(deployed, "2.png")
    with deployed.client(Role.REVIEWER) as first, _as(deployed, "reviewer", "reviewer-2") as second:
        (task,) = first.get("/v1/reviews").json()["pending"]
        assert task["age_s"] >= 0 and task["candidate"]["subject_id"] == "p1"
        decided = first.post(f"/v1/reviews/{task['task_id']}/decision",
                             json={"decision": "reject", "note": "not him, says first"})
        assert decided.status_code == 201, decided.text
        assert first.get("/v1/reviews").json()["pending"] == []
        _refused(first, deployed, "POST", f"/v1/reviews/{task['task_id']}/decision",
                 {"decision": "confirm"}, "same-reviewer")

        listed = second.get("/v1/reviews")
        shown = second.get(f"/v1/reviews/{task['task_id']}")
        for response in (listed, shown):
            assert response.status_code == 200, response.text
            text = response.text
            assert "reviewer-1" not in text and "reject" not in text and "says first" not in text
            assert '"score"' not in text and '"rank"' not in text and '"fmr"' not in text
        assert shown.json()["your_decision"] is None
        done = second.post(f"/v1/reviews/{task['task_id']}/decision",
                           json={"decision": "confirm"})
        assert done.status_code == 201 and "reject" not in done.text
    reviews = [e for e in Ledger(deployed.home).events() if e["action"] == "review"]
    assert [(e["actor"], e["result"]["decision"]) for e in reviews] == [
        ("reviewer-1", "reject"), ("reviewer-2", "confirm")]
    assert reviews[-1]["result"]["lead"] == "unconfirmed"
    assert reviews[-1]["result"]["disagreement"] is True
    assert found["result_id"] == reviews[-1]["result"]["result_id"]


def test_self_review_and_a_face_without_candidates_are_refused_over_rest(
        deployed: Service) -> None:
    found = _identify(deployed, "2.png")
    nobody = _identify(deployed, "3.png")  # a person not enrolled: no candidate
    assert nobody["faces"][0]["candidates"] == []
    with _as(deployed, "reviewer", "operator-1") as searcher:  # the searcher, as a reviewer
        assert searcher.get("/v1/reviews").json()["pending"] == []
        _refused(searcher, deployed, "POST", "/v1/reviews",
                 {"result_id": found["result_id"], "face": 0, "candidate": "p1",
                  "decision": "confirm"}, "self-review")
    with deployed.client(Role.REVIEWER) as reviewer:
        _refused(reviewer, deployed, "POST", "/v1/reviews",
                 {"result_id": nobody["result_id"], "face": 0, "candidate": "p1",
                  "decision": "confirm"}, "no-candidates")
        (task,) = reviewer.get("/v1/reviews").json()["pending"]  # only the one real candidate
        assert task["result_id"] == found["result_id"]


def test_no_action_on_a_lead_without_confirmation_and_evidence_over_rest(
        deployed: Service) -> None:
    found = _identify(deployed, "2.png")
    lead = {"result_id": found["result_id"], "face": 0, "candidate": "p1"}
    action = {**lead, "kind": "arrest", "evidence": "witness statement WS-3", "by": "Det. Ng"}
    with deployed.client(Role.OPERATOR) as detective:
        _refused(detective, deployed, "POST", "/v1/leads/action", action,
                 "lead-not-confirmed", "lead-refused")
    with deployed.client(Role.REVIEWER) as first, _as(deployed, "reviewer", "reviewer-2") as second:
        for client in (first, second):
            assert client.post("/v1/reviews", json={**lead, "decision": "confirm"}
                               ).status_code == 201
    with deployed.client(Role.OPERATOR) as detective:
        _refused(detective, deployed, "POST", "/v1/leads/action",
                 {**action, "evidence": None}, "no-evidence", "lead-refused")
        acted = detective.post("/v1/leads/action", json=action)
        assert acted.status_code == 201, acted.text
        assert acted.json()["lead"]["state"] == "actioned"
        ended = detective.post("/v1/leads/outcome",
                               json={**lead, "outcome": "charged", "by": "Det. Ng"})
        assert ended.status_code == 201 and ended.json()["lead"]["state"] == "outcome"
    steps = [e["result"]["step"] for e in Ledger(deployed.home).events() if e["action"] == "lead"]
    assert steps == ["action", "outcome"]
    assert "WS-3" not in json.dumps(list(Ledger(deployed.home).events()))
