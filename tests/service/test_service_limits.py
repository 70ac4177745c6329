"""Bad inputs and limits: every refusal is a 4xx problem+json and the service keeps answering."""

from __future__ import annotations

import io
from collections.abc import Callable

import httpx
import pytest
from PIL import Image
from service_harness import Service, faces_small, register_passing_audit

from faceaudit.service.keys import Role
from faceaudit.service.settings import ServiceSettings


def _assert_problem(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == f"https://faceaudit.dev/problems/{code}"
    assert body["status"] == status and body["title"] and body["detail"]
    assert "Traceback" not in response.text


def _still_up(service: Service) -> None:
    assert httpx.get(service.url + "/healthz").status_code == 200


def _verify(client: httpx.Client, a: bytes, b: bytes) -> httpx.Response:
    return client.post("/v1/verify", data={"purpose": "test"},
                       files={"image_a": ("a.png", a, "image/png"),
                              "image_b": ("b.png", b, "image/png")})


@pytest.fixture
def real_png() -> bytes:
    return (faces_small() / "mdtf-cc-by-2.0" / "1.png").read_bytes()


def test_zero_byte_and_text_uploads_are_422(service: Service, real_png: bytes) -> None:
    # The gate would refuse verify without an audit: image errors must come from the engine
    # only after the policy, so register one first.
    register_passing_audit(service.home, "dlib-resnet:1")
    with service.client(Role.OPERATOR) as client:
        _assert_problem(_verify(client, b"", real_png), 422, "image-unreadable")
        _assert_problem(_verify(client, b"hello, I am not an image\n" * 10, real_png), 422,
                        "image-unreadable")
        _assert_problem(_verify(client, real_png[: len(real_png) // 2], real_png), 422,
                        "image-truncated")
    _still_up(service)


def test_pixel_bomb_is_413(service: Service, real_png: bytes) -> None:
    register_passing_audit(service.home, "dlib-resnet:1")
    buffer = io.BytesIO()
    Image.new("L", (8000, 6000)).save(buffer, format="PNG")  # 48 Mpx, a few kB compressed
    with service.client(Role.OPERATOR) as client:
        _assert_problem(_verify(client, buffer.getvalue(), real_png), 413, "image-too-large")
    _still_up(service)


def test_oversize_upload_is_413(service_factory: Callable[..., Service]) -> None:
    service = service_factory(ServiceSettings(max_upload_bytes=64 * 1024))
    big = b"\0" * (256 * 1024)
    with service.client(Role.OPERATOR) as client:
        _assert_problem(_verify(client, big, big), 413, "upload-too-large")

        def chunks():
            for _ in range(8):
                yield b"\0" * (32 * 1024)

        # No Content-Length (chunked): the limit is counted while reading.
        response = client.post("/v1/verify", content=chunks(),
                               headers={"Content-Type": "application/octet-stream"})
        _assert_problem(response, 413, "upload-too-large")
    _still_up(service)


def test_rate_limit_is_429_with_retry_after(service_factory: Callable[..., Service]) -> None:
    service = service_factory(ServiceSettings(rate_per_minute=6, burst=3))
    with service.client(Role.AUDITOR) as client:
        codes = [client.get("/v1/ledger/verify").status_code for _ in range(3)]
        limited = client.get("/v1/ledger/verify")
    assert codes == [200, 200, 200]
    _assert_problem(limited, 429, "rate-limited")
    assert 1 <= int(limited.headers["retry-after"]) <= 10
    with service.client(Role.ADMIN) as client:  # another key has its own budget
        assert client.get("/v1/ledger/verify").status_code == 200
    _still_up(service)


def test_malformed_requests_are_problem_json(service: Service) -> None:
    with service.client(Role.REVIEWER) as client:
        _assert_problem(client.post("/v1/reviews", content=b"{not json",
                                    headers={"Content-Type": "application/json"}),
                        422, "invalid-request")
        _assert_problem(client.post("/v1/reviews", json={"result_id": "x", "decision": "maybe"}),
                        422, "invalid-request")
        _assert_problem(client.post("/v1/reviews", json={"result_id": "nope", "face": 0,
                                                          "candidate": "s",
                                                          "decision": "confirm"}),
                        404, "unknown-result")
        _assert_problem(client.post("/v1/reviews/nope/decision", json={"decision": "confirm"}),
                        404, "unknown-review-task")
        _assert_problem(client.get("/v1/reviews/nope"), 404, "unknown-review-task")
    with service.client(Role.AUDITOR) as client:
        _assert_problem(client.get("/v1/ledger", params={"limit": "-3"}), 422, "invalid-request")
        _assert_problem(client.put("/v1/ledger"), 405, "method-not-allowed")
    _still_up(service)
