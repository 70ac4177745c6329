"""Authorisation before identify, and the decision on an urgent search, over real HTTP."""

from __future__ import annotations

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
from faceaudit.ledger import Ledger
from faceaudit.ledger.genesis import init_home
from faceaudit.policy.enforce import install_policy
from faceaudit.service.keys import Role

RULES = ('\n[authorisation]\nrequired_for = ["identify"]\noffence_required_for = ["identify"]\n'
         'offences = ["robbery"]\n')


@pytest.fixture(scope="module")
def police(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """A service whose policy requires an authorisation and an offence for identify."""
    home = init_home(tmp_path_factory.mktemp("police") / "home")
    register_passing_audit(home, "dlib-resnet:1")
    policy = home.root.parent / "police.toml"
    policy.write_text(home.policy_path.read_text() + RULES)
    install_policy(home, Ledger(home), policy, "admin")
    deployment = Deployment(home, calibration=fake_calibration())
    with ExitStack() as stack:
        tokens = make_keys(home)
        yield Service(stack.enter_context(serve(home, ROOMY, deployment)), home, tokens)


def _image(name: str) -> bytes:
    return (faces_small() / "mdtf-cc-by-2.0" / name).read_bytes()


def _identify(service: Service, **fields: str):
    with service.client(Role.OPERATOR) as client:
        return client.post("/v1/identify", data={"purpose": "p", "case": "C-1", **fields},
                           files=[("image", ("2.png", _image("2.png"), "image/png"))])


def test_identify_without_authorisation_is_a_problem_naming_the_fields(police: Service):
    response = _identify(police)
    assert response.status_code == 403
    problem = response.json()
    assert response.headers["content-type"].startswith("application/problem+json")
    assert problem["rule"] == "authorisation-missing"
    assert "offence" in problem["detail"] and "reference" in problem["detail"]


def test_bad_kind_is_a_4xx(police: Service):
    response = _identify(police, authorisation="U-1", authority="Insp.",
                         authorisation_kind="hunch", offence="robbery")
    assert 400 <= response.status_code < 500 and "warrant" in response.text


def test_urgent_search_held_then_refused(police: Service):
    with police.client(Role.ENROLLER) as client:
        enrolled = client.post("/v1/subjects",
                               data={"subject_id": "p1", "basis": "consent", "evidence": "f"},
                               files=[("images", ("1.png", _image("1.png"), "image/png"))])
    assert enrolled.status_code == 201, enrolled.text
    response = _identify(police, authorisation="U-1", authority="Insp. Hale",
                         authorisation_kind="urgent", offence="robbery")
    assert response.status_code == 200, response.text
    found = response.json()
    assert found["faces"] == [] and found["held_until"]
    with police.client(Role.ADMIN) as client:
        held = client.get("/v1/authorisations/held").json()["held"]
        assert found["result_id"] in [h["result_id"] for h in held]
        decided = client.post(f"/v1/authorisations/{found['result_id']}",
                              json={"decision": "refused", "reference": "R-1",
                                    "authority": "Court"})
        assert decided.status_code == 201, decided.text
        assert decided.json()["deleted"] == [found["result_id"]]
        again = client.post(f"/v1/authorisations/{found['result_id']}",
                            json={"decision": "granted", "reference": "W", "authority": "C"})
        assert again.status_code == 404
    with police.client(Role.OPERATOR) as client:
        assert client.post("/v1/authorisations/x", json={"decision": "granted"}
                           ).status_code == 403  # an operator cannot authorise
