"""The probe-quality floor over real HTTP: a 403 problem+json naming the rule, or flags."""

from __future__ import annotations

from collections.abc import Iterator
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

from faceaudit.base.home import Home
from faceaudit.deployment.operations import Deployment
from faceaudit.ledger import Ledger
from faceaudit.ledger.genesis import init_home
from faceaudit.policy.enforce import install_policy
from faceaudit.service.keys import Role


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """A service whose backend has a registered, passing audit."""
    home = init_home(tmp_path_factory.mktemp("floor"))
    register_passing_audit(home, "dlib-resnet:1")
    deployment = Deployment(home, calibration=fake_calibration())
    with ExitStack() as stack:
        yield Service(stack.enter_context(serve(home, ROOMY, deployment)), home, make_keys(home))


def _floor(home: Home, tmp_path: Path, table: str) -> None:
    base = home.policy_path.read_text().split("\n[probe_quality]\n")[0]
    policy = tmp_path / "floor.toml"
    policy.write_text(base + f"\n[probe_quality]\n{table}\n")
    install_policy(home, Ledger(home), policy, "admin")


def _identify(service: Service):
    probe = (faces_small() / "mdtf-cc-by-2.0" / "2.png").read_bytes()
    with service.client(Role.OPERATOR) as client:
        return client.post("/v1/identify", data={"purpose": "p", "case": "c"},
                           files={"image": ("2.png", probe, "image/png")})


def test_identify_carries_the_probes_quality(deployed: Service, tmp_path: Path) -> None:
    _floor(deployed.home, tmp_path, "")
    response = _identify(deployed)
    assert response.status_code == 200, response.text
    face = response.json()["faces"][0]
    assert 10 < face["quality"]["inter_eye_distance_px"] < 60
    assert "quality_flags" not in face
    event = list(Ledger(deployed.home).events())[-1]
    assert event["action"] == "identify"
    assert event["result"]["probe_quality"] == [face["quality"]]


def test_a_probe_below_the_floor_is_a_403_problem_and_logged(deployed: Service,
                                                             tmp_path: Path) -> None:
    _floor(deployed.home, tmp_path, "min_inter_eye_px = 400\nmax_abs_yaw_deg = 60")
    response = _identify(deployed)
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["type"] == "https://faceaudit.dev/problems/policy-refused"
    assert body["rule"] == "probe-quality"
    assert "inter_eye_distance_px" in body["detail"] and "< 400" in body["detail"]
    assert "Traceback" not in response.text
    last = list(Ledger(deployed.home).events())[-1]
    assert (last["action"], last["actor"]) == ("refused", "operator-1")
    assert last["result"]["rule"] == "probe-quality"
    assert [b["component"] for b in last["result"]["breaches"]] == ["inter_eye_distance_px"]


def test_flag_answers_200_with_the_flags(deployed: Service, tmp_path: Path) -> None:
    _floor(deployed.home, tmp_path, 'min_inter_eye_px = 400\non_below = "flag"')
    response = _identify(deployed)
    assert response.status_code == 200, response.text
    flags = response.json()["faces"][0]["quality_flags"]
    assert flags == [{"component": "inter_eye_distance_px",
                      "value": response.json()["faces"][0]["quality"]["inter_eye_distance_px"],
                      "limit": "min_inter_eye_px", "bound": 400.0}]
