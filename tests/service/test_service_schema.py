"""schemathesis against the live OpenAPI spec: no generated request may cause a 5xx."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

import pytest
import schemathesis
from conftest import ROOMY
from hypothesis import HealthCheck, given, settings
from service_harness import Service, fake_calibration, make_keys, register_passing_audit, serve

from faceaudit.deployment.operations import Deployment
from faceaudit.ledger.genesis import init_home
from faceaudit.service.keys import Role

# The role that may call each path (first matching prefix), so requests reach the handlers.
ROLE_FOR = [
    ("/v1/verify", Role.OPERATOR),
    ("/v1/identify", Role.OPERATOR),
    ("/v1/subjects", Role.ENROLLER),
    ("/v1/reviews", Role.REVIEWER),
    ("/v1/leads", Role.OPERATOR),
    ("/", Role.AUDITOR),
]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    home = init_home(tmp_path_factory.mktemp("schema"))
    register_passing_audit(home, "dlib-resnet:1")
    deployment = Deployment(home, calibration=fake_calibration())
    with ExitStack() as stack:
        tokens = make_keys(home)
        yield Service(stack.enter_context(serve(home, ROOMY, deployment)), home, tokens)


def _fuzz(operation, base_url: str, headers: dict[str, str]) -> None:
    @given(case=operation.as_strategy())
    @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck),
              database=None)
    def check(case) -> None:
        response = case.call(base_url=base_url, headers=headers, timeout=60)
        assert response.status_code < 500, (case.method, case.path, response.text)
        if response.status_code >= 400:
            assert response.headers["content-type"] in (
                "application/problem+json", ["application/problem+json"]
            ), response.headers

    check()


def test_no_server_errors(live: Service) -> None:
    schema = schemathesis.openapi.from_url(live.url + "/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 14
    for operation in operations:
        role = next(r for prefix, r in ROLE_FOR if operation.path.startswith(prefix))
        _fuzz(operation, live.url, {"X-API-Key": live.tokens[role]})
