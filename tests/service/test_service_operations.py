"""Enrol, identify, review, verify and erase over real HTTP with real images and the real model."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

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

BACKEND = "dlib-resnet:1"


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """A service whose backend has a registered, passing audit."""
    home = init_home(tmp_path_factory.mktemp("deployed"))
    register_passing_audit(home, BACKEND)
    deployment = Deployment(home, calibration=fake_calibration())
    with ExitStack() as stack:
        tokens = make_keys(home)
        yield Service(stack.enter_context(serve(home, ROOMY, deployment)), home, tokens)


def _image(name: str) -> bytes:
    return (faces_small() / "mdtf-cc-by-2.0" / name).read_bytes()


def _enrol(service: Service, subject: str, image: str) -> dict:
    with service.client(Role.ENROLLER) as client:
        response = client.post(
            "/v1/subjects",
            data={"subject_id": subject, "basis": "consent", "evidence": f"form-{subject}"},
            files=[("images", (image, _image(image), "image/png"))],
        )
    assert response.status_code == 201, response.text
    return response.json()


def test_enrol_identify_review_verify_erase(deployed: Service) -> None:
    for subject, image in (("p1", "1.png"), ("p2", "3.png"), ("p3", "5.png")):
        assert _enrol(deployed, subject, image)["templates"] == 1

    with deployed.client(Role.OPERATOR) as client:
        response = client.post(
            "/v1/identify", data={"purpose": "test", "case": "c-1", "top": "3"},
            files={"image": ("2.png", _image("2.png"), "image/png")},
        )
        assert response.status_code == 200, response.text
        found = response.json()
        assert found["requires_review"] is True
        assert len(found["faces"]) == 1
        candidates = found["faces"][0]["candidates"]
        assert candidates[0]["subject_id"] == "p1" and candidates[0]["rank"] == 1

        same = client.post("/v1/verify", data={"purpose": "test"}, files={
            "image_a": ("1.png", _image("1.png"), "image/png"),
            "image_b": ("2.png", _image("2.png"), "image/png")})
        other = client.post("/v1/verify", data={"purpose": "test"}, files={
            "image_a": ("1.png", _image("1.png"), "image/png"),
            "image_b": ("3.png", _image("3.png"), "image/png")})
        subject = client.post("/v1/verify", data={"purpose": "test", "subject_id": "p2"},
                              files={"image_a": ("4.png", _image("4.png"), "image/png")})
    assert same.status_code == other.status_code == subject.status_code == 200, same.text
    assert same.json()["match"] is True and other.json()["match"] is False
    assert subject.json()["match"] is True
    assert same.json()["score"] > other.json()["score"]

    with deployed.client(Role.REVIEWER) as client:
        named = {"result_id": found["result_id"], "face": 0, "candidate": "p1"}
        review = client.post("/v1/reviews", json={**named, "decision": "confirm",
                                                  "note": "same person"})
        again = client.post("/v1/reviews", json={**named, "decision": "reject"})
    assert review.status_code == 201, review.text
    assert again.status_code == 403
    assert again.json()["type"].endswith("/review-refused")
    assert again.json()["rule"] == "same-reviewer"

    with deployed.client(Role.ADMIN) as client:
        erased = client.delete("/v1/subjects/p3")
        missing = client.delete("/v1/subjects/p3")
    assert erased.status_code == 200 and erased.json()["templates"] == 1
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"

    actors = {(e["action"], e["actor"]) for e in Ledger(deployed.home).events()}
    assert {("enrol", "enroller-1"), ("identify", "operator-1"), ("verify", "operator-1"),
            ("review", "reviewer-1"), ("erase", "admin-1")} <= actors

    with deployed.client(Role.AUDITOR) as client:
        page = client.get("/v1/ledger", params={"limit": 2})
        rest = client.get("/v1/ledger", params={"after": page.json()["next_after"],
                                                "limit": 1000})
        check = client.get("/v1/ledger/verify").json()
        oversight = client.get("/v1/reports/oversight").json()
    seqs = [e["seq"] for e in page.json()["events"] + rest.json()["events"]]
    assert seqs == list(range(1, check["n_events"] + 1))
    assert rest.json()["next_after"] is None
    assert check["ok"] is True
    # one confirmation of the two the default policy requires: still pending, and shown so
    assert (oversight["reviews"]["confirmed"], oversight["reviews"]["pending"]) == (0, 1)
    assert [(r["reviewers"], r["confirms"], r["lead"]) for r in oversight["leads"]["rows"]] == [
        ("reviewer-1", 1, "pending")]
    assert oversight["searches_by_actor"][0]["actor"] == "operator-1"


def test_policy_refusal_is_403_problem_and_logged(deployed: Service) -> None:
    with deployed.client(Role.OPERATOR) as client:
        response = client.post("/v1/identify", data={"purpose": "test"},
                               files={"image": ("2.png", _image("2.png"), "image/png")})
    assert response.status_code == 403
    body = response.json()
    assert body["type"] == "https://faceaudit.dev/problems/policy-refused"
    assert body["rule"]
    last = list(Ledger(deployed.home).events())[-1]
    assert (last["action"], last["actor"]) == ("refused", "operator-1")


def test_identify_is_refused_without_an_audit(service: Service) -> None:
    with service.client(Role.OPERATOR) as client:
        response = client.post("/v1/identify", data={"purpose": "p", "case": "c"},
                               files={"image": ("2.png", _image("2.png"), "image/png")})
    assert response.status_code == 403
    assert response.json()["rule"] == "no-audit"


def test_empty_ledger_oversight_and_bad_period(service: Service, tmp_path: Path) -> None:
    with service.client(Role.AUDITOR) as client:
        empty = client.get("/v1/ledger")
        bad = client.get("/v1/reports/oversight",
                         params={"from": "2030-01-01T00:00:00Z", "to": "2020-01-01T00:00:00Z"})
    # a fresh deployment's ledger: the genesis event, then the creation of the test's keys
    assert empty.status_code == 200 and empty.json()["next_after"] is None
    actions = [e["action"] for e in empty.json()["events"]]
    assert actions[0] == "init" and set(actions[1:]) == {"key_create"}
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"


def test_concurrent_requests_are_all_served_and_logged(deployed: Service) -> None:
    before = Ledger(deployed.home).verify().n_events

    def one(i: int) -> int:
        with deployed.client(Role.OPERATOR) as client:
            return client.post("/v1/verify", data={"purpose": f"concurrency {i}"}, files={
                "image_a": ("5.png", _image("5.png"), "image/png"),
                "image_b": ("6.png", _image("6.png"), "image/png")}).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(one, range(8)))
    assert codes == [200] * 8
    report = Ledger(deployed.home).verify()
    assert report.ok and report.n_events == before + 8
    purposes = {e["purpose"] for e in Ledger(deployed.home).events() if e["action"] == "verify"}
    assert {f"concurrency {i}" for i in range(8)} <= purposes


def test_revoked_key_stops_working_at_once(deployed: Service) -> None:
    key, token = KeyStore(deployed.home).create("auditor", "temp-auditor")
    headers = {"X-API-Key": token}
    with deployed.client() as client:
        assert client.get("/v1/ledger/verify", headers=headers).status_code == 200
        KeyStore(deployed.home).revoke(key.key_id)
        assert client.get("/v1/ledger/verify", headers=headers).status_code == 401


def test_too_long_fields_are_a_4xx_before_anything_is_committed(deployed: Service) -> None:
    """No ``500 ledger-bad-event`` after a commit: the event is checked first."""
    before = deployed.home.ledger_path.read_bytes()
    with deployed.client(Role.ENROLLER) as client:
        response = client.post(
            "/v1/subjects",
            data={"subject_id": "s-long", "basis": "consent", "evidence": "e" * 1100},
            files=[("images", ("1.png", _image("1.png"), "image/png"))],
        )
        assert response.status_code == 422, response.text
        assert response.json()["type"].endswith("/invalid-request")
        assert "evidence" in response.json()["detail"]
        erase = client.delete("/v1/subjects/p1", params={"purpose": "p" * 1100})
        assert erase.status_code == 422, erase.text
    assert "s-long" not in {s["subject_id"] for s in Deployment(deployed.home).list_subjects()}
    assert deployed.home.ledger_path.read_bytes() == before


def test_verify_refuses_a_group_photo_instead_of_picking_a_face(deployed: Service) -> None:
    """One face per image, as the library's verify: 422 naming the count, nothing logged."""
    group = (faces_small() / "group" / "insightface_t1.jpg").read_bytes()
    before = Ledger(deployed.home).verify().n_events
    with deployed.client(Role.OPERATOR) as client:
        response = client.post("/v1/verify", data={"purpose": "group photo"}, files={
            "image_a": ("group.jpg", group, "image/jpeg"),
            "image_b": ("1.png", _image("1.png"), "image/png")})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"].endswith("several-faces") and "6 faces" in problem["detail"]
    assert "face_a=N (0..5" in problem["detail"] and "--face" not in problem["detail"]
    assert Ledger(deployed.home).verify().n_events == before
    with deployed.client(Role.OPERATOR) as client:  # the field it names picks one (issue 26)
        picked = client.post("/v1/verify", data={"purpose": "group photo", "face_a": "0"},
                             files={"image_a": ("group.jpg", group, "image/jpeg"),
                                    "image_b": ("1.png", _image("1.png"), "image/png")})
    assert picked.status_code == 200, picked.text
    assert Ledger(deployed.home).verify().n_events > before


def test_enrolling_a_group_photo_keeps_its_own_code(deployed: Service) -> None:
    """The same error class as verify's, but an enrolment image answers ``multiple-faces``."""
    group = (faces_small() / "group" / "insightface_t1.jpg").read_bytes()
    with deployed.client(Role.ENROLLER) as client:
        response = client.post(
            "/v1/subjects",
            data={"subject_id": "g", "basis": "consent", "evidence": "form-g"},
            files=[("images", ("group.jpg", group, "image/jpeg"))],
        )
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["type"] == "https://faceaudit.dev/problems/multiple-faces"
    assert "an enrolment image must show one person" in problem["detail"]


def test_a_duplicate_face_is_refused_naming_the_rest_field(deployed: Service) -> None:
    """The refusal names REST's ``allow_duplicate``, not the CLI's flag (issue 26)."""
    mit = faces_small() / "face_recognition-mit"
    with deployed.client(Role.ENROLLER) as client:
        def enrol(subject: str, photo: str, **extra: str):
            return client.post("/v1/subjects", data={
                "subject_id": subject, "basis": "consent", "evidence": f"f-{subject}", **extra},
                files=[("images", (photo, (mit / photo).read_bytes(), "image/jpeg"))])
        assert enrol("dup-a", "obama.jpg").status_code == 201
        refused = enrol("dup-b", "obama2.jpg")
        assert refused.status_code == 403, refused.text
        detail = refused.json()["detail"]
        assert "dup-a" in detail
        assert detail.endswith("allow_duplicate=true enrols anyway (recorded)")
        assert "--allow-duplicate" not in detail
        assert enrol("dup-b", "obama2.jpg", allow_duplicate="true").status_code == 201


def test_top_above_the_policys_cap_is_refused_naming_the_field(deployed: Service) -> None:
    """``top`` above ``max_candidates`` is a 422 naming the REST field and the cap, never a
    silent cap (issue 26)."""
    with deployed.client(Role.OPERATOR) as client:
        response = client.post("/v1/identify", data={"purpose": "p", "case": "c", "top": "50"},
                               files={"image": ("2.png", _image("2.png"), "image/png")})
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert detail.startswith("top 50: ") and "max_candidates (10)" in detail
    assert "--top" not in detail
