"""Every REST output is described in ``/openapi.json`` (issue 26), and real answers validate
against what it says.

The walk covers every path the live spec lists, so a route added later without a response
model fails here: every 2xx answer has a schema — a ``$ref`` to a component with properties
(JSON), or a string (HTML) — and every 3xx names its ``Location``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import jsonschema_rs
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

METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    home = init_home(tmp_path_factory.mktemp("models"))
    register_passing_audit(home, "dlib-resnet:1")
    deployment = Deployment(home, calibration=fake_calibration())
    with ExitStack() as stack:
        yield Service(stack.enter_context(serve(home, ROOMY, deployment)), home, make_keys(home))


@pytest.fixture(scope="module")
def spec(live: Service) -> dict[str, Any]:
    return httpx.get(live.url + "/openapi.json").json()


def _component(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    name = schema["$ref"].removeprefix("#/components/schemas/")
    return spec["components"]["schemas"][name]


def _describes(spec: dict[str, Any], media: str, schema: dict[str, Any]) -> str | None:
    """Why ``schema`` does not describe an answer of type ``media`` (None when it does)."""
    if media == "text/html":
        return None if schema.get("type") == "string" else "HTML without a string schema"
    if "$ref" in schema:
        return None if _component(spec, schema).get("properties") else "an empty model"
    if schema.get("type") == "array" and "$ref" in schema.get("items", {}):
        return None
    return f"no response model: {schema}"


def test_every_answer_of_every_route_is_described(spec: dict[str, Any]) -> None:
    problems = []
    operations = 0
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            operations += 1
            where = f"{method.upper()} {path}"
            answers = {code: r for code, r in operation["responses"].items()
                       if code[0] in "23"}
            if not answers:
                problems.append(f"{where}: no success answer documented")
            for code, response in answers.items():
                if code[0] == "3":
                    if "Location" not in response.get("headers", {}):
                        problems.append(f"{where} {code}: redirect without its Location")
                    continue
                content = response.get("content") or {}
                if not content:
                    problems.append(f"{where} {code}: no content described")
                for media, body in content.items():
                    why = _describes(spec, media, body.get("schema") or {})
                    if why:
                        problems.append(f"{where} {code} {media}: {why}")
    assert operations >= 30
    assert problems == []


def _operation(spec: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    for template, item in spec["paths"].items():
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path) and method in item:
            return item[method]
    raise AssertionError(f"{method} {path} is not in the spec")


def _valid(spec: dict[str, Any], response: httpx.Response) -> Any:
    """Check ``response`` against the schema the spec documents for its status; return its
    JSON."""
    assert response.status_code < 300, response.text
    request = response.request
    operation = _operation(spec, request.method.lower(), request.url.path)
    documented = operation["responses"][str(response.status_code)]
    schema = documented["content"]["application/json"]["schema"]
    root = {**schema, "components": spec["components"]}
    body = response.json()
    errors = [f"{e.instance_path}: {e.message}"
              for e in jsonschema_rs.validator_for(root).iter_errors(body)]
    assert errors == [], (request.url.path, errors)
    return body


def test_real_answers_validate_against_their_models(live: Service, spec: dict[str, Any]) -> None:
    images = faces_small() / "mdtf-cc-by-2.0"
    with live.client(Role.ENROLLER) as client:
        for subject, name in (("m1", "1.png"), ("m2", "3.png")):
            enrolled = _valid(spec, client.post(
                "/v1/subjects", data={"subject_id": subject, "basis": "consent",
                                      "evidence": f"form {subject}"},
                files={"images": (name, (images / name).read_bytes())}))
            assert enrolled["receipt"]["sth"]["tree_size"] >= enrolled["ledger_seq"]
    with live.client(Role.ADMIN) as client:
        page = _valid(spec, client.get("/v1/subjects", params={"limit": 1}))
        assert page["total"] == 2 and page["next_after"] == "m1"
        _valid(spec, client.get("/v1/authorisations/held"))
        _valid(spec, client.get("/v1/subjects/m2/export", params={"purpose": "access request"}))
    with live.client(Role.OPERATOR) as client:
        verified = _valid(spec, client.post(
            "/v1/verify", data={"subject_id": "m1", "purpose": "check", "case": "C-1"},
            files={"image_a": ("2.png", (images / "2.png").read_bytes())}))
        assert verified["subject_id"] == "m1"
        found = _valid(spec, client.post(
            "/v1/identify", data={"purpose": "check", "case": "C-1"},
            files={"image": ("2.png", (images / "2.png").read_bytes())}))
        assert found["faces"][0]["candidates"][0]["subject_id"] == "m1"
        _valid(spec, client.get("/v1/policy/status"))
    with live.client(Role.REVIEWER) as client:
        pending = _valid(spec, client.get("/v1/reviews"))["pending"]
        task = _valid(spec, client.get(f"/v1/reviews/{pending[0]['task_id']}"))
        decided = _valid(spec, client.post(f"/v1/reviews/{task['task_id']}/decision",
                                           json={"decision": "confirm"}))
        assert decided["your_decision"] == "confirm"
    with live.client(Role.AUDITOR) as client:
        checked = _valid(spec, client.get("/v1/ledger/verify"))
        assert checked["ok"] and f"{checked['tree_heads_verified']} signed tree heads" in \
            checked["summary"]
        events = _valid(spec, client.get("/v1/ledger", params={"limit": 3}))["events"]
        head = _valid(spec, client.get("/v1/ledger/sth"))
        _valid(spec, client.get("/v1/ledger/inclusion", params={"seq": events[-1]["seq"]}))
        _valid(spec, client.get("/v1/ledger/consistency",
                                params={"first": 1, "second": head["tree_size"]}))
        _valid(spec, client.get("/v1/reports/oversight"))
    with live.client(Role.ENROLLER) as client:
        erased = _valid(spec, client.delete("/v1/subjects/m2"))
        assert erased["templates"] == 1


def test_a_wrong_answer_fails_the_check(spec: dict[str, Any]) -> None:
    """The check can fail: an answer missing a documented field is caught."""
    request = httpx.Request("GET", "http://x/v1/ledger/verify")
    bad = httpx.Response(200, json={"ok": True}, request=request)
    with pytest.raises(AssertionError, match="n_events"):
        _valid(spec, bad)
