"""Slow clients over real sockets: 40 clients sending a byte a second (in their headers or in
their body) are cut off within the read deadlines (plus a generous slack), answered 408 and
logged, while a normal request beside them is served."""

from __future__ import annotations

import logging
import select
import socket
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx
import pytest
from service_harness import Service, faces_small, register_passing_audit

from faceaudit.service.keys import Role
from faceaudit.service.settings import ServiceSettings

HEADER_S = 2.0
BODY_S = 3.0
SLACK_S = 4.0  # generous: the server shares a loaded machine with this test's threads


def _open(url: str) -> socket.socket:
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=5)
    sock.setblocking(False)
    return sock


def _head(url: str, key: str, length: int) -> bytes:
    host = urlsplit(url).netloc
    return (f"POST /v1/verify HTTP/1.1\r\nHost: {host}\r\nX-API-Key: {key}\r\n"
            f"Content-Type: multipart/form-data; boundary=x\r\nContent-Length: {length}\r\n\r\n"
            ).encode()


class SlowClient:
    """One socket that is fed ``pending`` one byte per tick and remembers when it was closed."""

    def __init__(self, sock: socket.socket, pending: bytes, phase: str) -> None:
        self.sock, self.pending, self.phase = sock, pending, phase
        self.opened = time.monotonic()
        self.closed_after: float | None = None
        self.answer = b""

    def tick(self) -> None:
        if self.closed_after is not None or not self.pending:
            return
        try:
            self.sock.send(self.pending[:1])
            self.pending = self.pending[1:]
        except OSError:
            self._closed()

    def poll(self) -> None:
        if self.closed_after is not None:
            return
        while True:
            try:
                chunk = self.sock.recv(65536)
            except BlockingIOError:
                return
            except OSError:
                self._closed()
                return
            if not chunk:
                self._closed()
                return
            self.answer += chunk

    def _closed(self) -> None:
        self.closed_after = time.monotonic() - self.opened
        self.sock.close()


def _drive(clients: list[SlowClient], until: float) -> None:
    """Send a byte a second to every open client and read what comes back, until ``until``."""
    next_tick = time.monotonic()
    while time.monotonic() < until and any(c.closed_after is None for c in clients):
        if time.monotonic() >= next_tick:
            for client in clients:
                client.tick()
            next_tick += 1.0
        socks = [c.sock for c in clients if c.closed_after is None]
        select.select(socks, [], [], 0.05)
        for client in clients:
            client.poll()


@pytest.mark.timeout(120)
def test_forty_slow_clients_are_cut_off_and_do_not_starve_a_normal_request(
        service_factory: Callable[..., Service], caplog: pytest.LogCaptureFixture) -> None:
    service = service_factory(ServiceSettings(header_timeout_s=HEADER_S, body_timeout_s=BODY_S,
                                              rate_per_minute=100_000, burst=10_000))
    register_passing_audit(service.home, "dlib-resnet:1")
    image = (faces_small() / "face_recognition-mit" / "obama.jpg").read_bytes()
    files = {"image_a": ("a.jpg", image), "image_b": ("b.jpg", image)}
    with service.client(Role.OPERATOR) as client:  # load the model before the flood
        assert client.post("/v1/verify", data={"purpose": "t"}, files=files).status_code == 200
    key = service.tokens[Role.OPERATOR]
    caplog.set_level(logging.WARNING, logger="faceaudit.service")
    clients = []
    for i in range(40):
        sock = _open(service.url)
        if i % 2:  # slow in the head: one byte a second of the request line and headers
            clients.append(SlowClient(sock, _head(service.url, key, 10), "headers"))
        else:  # the head at once, then a body of 100 kB at one byte a second
            sock.setblocking(True)
            sock.sendall(_head(service.url, key, 100_000))
            sock.setblocking(False)
            clients.append(SlowClient(sock, b"--x\r\n" + b"y" * 99_995, "body"))
    _drive(clients, time.monotonic() + 0.5)
    # a normal request beside them is served (its p99 under such a flood is bench/load.py's
    # `slow` scenario: no timing is asserted here, the machine may be loaded)
    with service.client(Role.OPERATOR) as client:
        assert client.get("/healthz").status_code == 200
        response = client.post("/v1/verify", data={"purpose": "t"}, files=files)
    assert response.status_code == 200, response.text
    _drive(clients, time.monotonic() + BODY_S + 2 * SLACK_S)
    for client in clients:
        limit = HEADER_S if client.phase == "headers" else BODY_S
        assert client.closed_after is not None, f"a slow {client.phase} client is still open"
        assert client.closed_after <= limit + SLACK_S, (client.phase, client.closed_after)
        assert client.answer.startswith(b"HTTP/1.1 408 "), client.answer[:200]
        assert b"application/problem+json" in client.answer
        assert b"request-timeout" in client.answer
    cuts = [r for r in caplog.records if "closing slow client" in r.getMessage()]
    assert len(cuts) == 40
    assert {("request headers" in r.getMessage()) for r in cuts} == {True, False}
    assert httpx.get(service.url + "/healthz").status_code == 200


@pytest.mark.timeout(60)
def test_a_connection_that_sends_nothing_is_closed(
        service_factory: Callable[..., Service]) -> None:
    service = service_factory(ServiceSettings(header_timeout_s=1.0))
    client = SlowClient(_open(service.url), b"", "headers")
    _drive([client], time.monotonic() + 1.0 + SLACK_S + 1)
    assert client.closed_after is not None and client.closed_after <= 1.0 + SLACK_S


@pytest.mark.timeout(60)
def test_slow_next_request_on_a_kept_alive_connection_is_cut(
        service_factory: Callable[..., Service]) -> None:
    service = service_factory(ServiceSettings(header_timeout_s=1.0, keep_alive_s=30))
    sock = _open(service.url)
    sock.setblocking(True)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    first = b""
    while not first.endswith(b"}"):
        first += sock.recv(65536)
    assert first.startswith(b"HTTP/1.1 200 ")
    sock.setblocking(False)
    time.sleep(1.5)  # idle between requests: only the keep-alive timeout applies
    client = SlowClient(sock, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", "headers")
    _drive([client], time.monotonic() + 1.0 + SLACK_S + 1)
    assert client.closed_after is not None and client.closed_after <= 1.0 + SLACK_S
    assert client.answer.startswith(b"HTTP/1.1 408 ")
