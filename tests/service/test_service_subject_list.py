"""GET /v1/subjects: paged, admin/enroller only, exactly what `gallery list` shows."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack

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
from faceaudit.ledger.genesis import init_home
from faceaudit.service.keys import Role
from faceaudit.service.routes.subject_list import page_of

SUBJECTS = {"p3": "5.png", "p1": "1.png", "p2": "3.png"}


@pytest.fixture(scope="module")
def enrolled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    home = init_home(tmp_path_factory.mktemp("listed"))
    register_passing_audit(home, "dlib-resnet:1")
    deployment = Deployment(home, calibration=fake_calibration())
    with ExitStack() as stack:
        service = Service(stack.enter_context(serve(home, ROOMY, deployment)), home,
                          make_keys(home))
        with service.client(Role.ENROLLER) as client:
            for subject, image in SUBJECTS.items():
                data = (faces_small() / "mdtf-cc-by-2.0" / image).read_bytes()
                response = client.post(
                    "/v1/subjects",
                    data={"subject_id": subject, "basis": "consent",
                          "evidence": f"form-{subject}"},
                    files=[("images", (image, data, "image/png"))],
                )
                assert response.status_code == 201, response.text
        yield service


def test_pages_walk_every_subject_once_in_order(enrolled: Service) -> None:
    seen, after, pages = [], None, 0
    with enrolled.client(Role.ADMIN) as client:
        while True:
            params = {"limit": 2} | ({"after": after} if after else {})
            response = client.get("/v1/subjects", params=params)
            assert response.status_code == 200, response.text
            body = response.json()
            assert body["total"] == 3 and len(body["subjects"]) <= 2
            seen += [s["subject_id"] for s in body["subjects"]]
            pages += 1
            after = body["next_after"]
            if after is None:
                break
    assert seen == ["p1", "p2", "p3"] and pages == 2


def test_listing_is_what_gallery_list_shows_and_no_biometrics(enrolled: Service) -> None:
    with enrolled.client(Role.ENROLLER) as client:
        body = client.get("/v1/subjects").json()
    assert body["subjects"] == Deployment(enrolled.home).list_subjects()
    first = body["subjects"][0]
    assert set(first) == {"subject_id", "display_name", "created_at", "templates", "images",
                          "consents"}
    assert first["templates"] == 1 and first["consents"][0]["evidence"] == "form-p1"
    text = json.dumps(body)
    assert "embedding" not in text and "vector" not in text


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.REVIEWER, Role.AUDITOR])
def test_other_roles_are_forbidden(enrolled: Service, role: Role) -> None:
    with enrolled.client(role) as client:
        response = client.get("/v1/subjects")
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 501}, {"limit": "many"}])
def test_bad_page_size_is_a_problem(enrolled: Service, params: dict) -> None:
    with enrolled.client(Role.ADMIN) as client:
        response = client.get("/v1/subjects", params=params)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


def test_cursor_survives_erasure_between_pages() -> None:
    subjects = [{"subject_id": s} for s in ("a", "b", "c", "d")]
    first = page_of(subjects, None, 2)
    assert [s["subject_id"] for s in first["subjects"]] == ["a", "b"]
    without_b = [s for s in subjects if s["subject_id"] != "b"]  # erased between the pages
    second = page_of(without_b, first["next_after"], 2)
    assert [s["subject_id"] for s in second["subjects"]] == ["c", "d"]
    assert second["next_after"] is None
    assert page_of([], None, 2) == {"subjects": [], "total": 0, "next_after": None}
