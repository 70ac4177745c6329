"""The role matrix of docs/api.md, for every endpoint: no key, bad key, wrong role, right role."""

from __future__ import annotations

import pytest
from service_harness import Service

from faceaudit.service.keys import Role

ADM, ENR, OPR, REV, AUD = Role.ADMIN, Role.ENROLLER, Role.OPERATOR, Role.REVIEWER, Role.AUDITOR

# (method, path, roles allowed) — must match the table in docs/api.md.
MATRIX: list[tuple[str, str, set[Role]]] = [
    ("POST", "/v1/verify", {OPR}),
    ("POST", "/v1/identify", {OPR}),
    ("POST", "/v1/subjects", {ENR}),
    ("GET", "/v1/subjects", {ENR, ADM}),
    ("DELETE", "/v1/subjects/nobody", {ENR, ADM}),
    ("GET", "/v1/subjects/nobody/export", {ADM}),
    ("POST", "/v1/reviews", {REV}),
    ("GET", "/v1/reviews", {REV}),
    ("GET", "/v1/reviews/no-such-task", {REV}),
    ("POST", "/v1/reviews/no-such-task/decision", {REV}),
    ("POST", "/v1/leads/action", {OPR}),
    ("POST", "/v1/leads/outcome", {OPR}),
    ("GET", "/v1/ledger", {AUD, ADM}),
    ("GET", "/v1/ledger/verify", {AUD, ADM}),
    ("GET", "/v1/ledger/sth", {AUD, ADM}),
    ("GET", "/v1/ledger/inclusion", {AUD, ADM}),
    ("GET", "/v1/ledger/consistency", {AUD, ADM}),
    ("GET", "/v1/reports/oversight", {AUD, ADM}),
    ("POST", "/v1/cases/no-such-case/export", {AUD, ADM}),
    ("GET", "/v1/reports/transparency", {AUD, ADM}),
    ("POST", "/v1/audits", {AUD}),
    ("GET", "/v1/audits/0123456789abcdef", {AUD, ADM}),
    ("GET", "/v1/audits/0123456789abcdef/report.html", {AUD, ADM}),
    ("GET", "/v1/audits/0123456789abcdef/report.json", {AUD, ADM}),
    ("POST", "/v1/audits/register", {AUD}),
    ("GET", "/v1/policy/status", {ADM, OPR, AUD}),
    ("GET", "/v1/authorisations/held", {ADM}),
    ("POST", "/v1/authorisations/nothing-held", {ADM}),
    ("GET", "/auditor", {AUD}),
    ("GET", "/review", {REV}),
    ("GET", "/review/tasks/no-such-task", {REV}),
    ("POST", "/review/tasks/no-such-task", {REV}),
    ("GET", "/auditor/audits/0123456789abcdef/report.html", {AUD}),
]

CASES = [(m, p, role) for m, p, roles in MATRIX for role in Role]


def _problem_type(response) -> str:
    assert response.headers["content-type"] == "application/problem+json", response.text
    return response.json()["type"].rsplit("/", 1)[1]


def test_matrix_covers_every_route_in_the_openapi_spec(roomy_service: Service) -> None:
    with roomy_service.client() as client:
        spec = client.get("/openapi.json").json()
    documented = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
    covered = {(m, p.replace("nobody", "{subject_id}").replace("0123456789abcdef", "{job_id}"))
               for m, p, _ in MATRIX}
    covered = {(m, p.replace("/auditor/audits/{job_id}", "/auditor/audits/{audit_id}")
                .replace("nothing-held", "{result_id}").replace("no-such-task", "{task_id}")
                .replace("no-such-case", "{case}"))
               for m, p in covered}
    public = {("GET", "/healthz"), ("GET", "/auditor/login"), ("POST", "/auditor/login"),
              ("POST", "/auditor/logout"), ("GET", "/review/login"), ("POST", "/review/login")}
    assert documented - public == covered


# the pages a browser opens: without any key they send it to their sign-in form (303)
SIGN_IN = {("GET", "/auditor"): "/auditor/login", ("GET", "/review"): "/review/login",
           ("GET", "/review/tasks/no-such-task"): "/review/login",
           ("GET", "/auditor/audits/0123456789abcdef/report.html"): "/auditor/login"}


@pytest.mark.parametrize(("method", "path", "_roles"), MATRIX)
def test_no_key_and_bad_key_are_401(roomy_service: Service, method, path, _roles) -> None:
    with roomy_service.client() as client:
        for headers in ({}, {"X-API-Key": "fa_not-a-real-key"},
                        {"Authorization": "Bearer fa_not-a-real-key"}):
            response = client.request(method, path, headers=headers)
            if not headers and (method, path) in SIGN_IN:
                assert response.status_code == 303, (method, path, response.text)
                assert response.headers["location"] == SIGN_IN[method, path]
                continue
            assert response.status_code == 401, (method, path, headers, response.text)
            assert _problem_type(response) == "unauthenticated"
            assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(("method", "path", "role"), CASES)
def test_roles(roomy_service: Service, method: str, path: str, role: Role) -> None:
    allowed = next(roles for m, p, roles in MATRIX if (m, p) == (method, path))
    with roomy_service.client(role) as client:
        response = client.request(method, path)
    if role in allowed:
        # Past authentication and authorisation: the handler answers (empty or unknown input).
        assert response.status_code not in (401, 403), response.text
        assert response.status_code < 500, response.text
    else:
        assert response.status_code == 403, response.text
        assert _problem_type(response) == "forbidden"


def test_bearer_header_is_accepted(roomy_service: Service) -> None:
    with roomy_service.client() as client:
        token = roomy_service.tokens[Role.AUDITOR]
        response = client.get("/v1/ledger/verify", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert set(response.json()) >= {"ok", "n_events", "reason"}
