"""Test harness: a real uvicorn server on a free loopback port for a fresh deployment home."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn

from faceaudit.home import Home
from faceaudit.service import ServiceSettings, create_app
from faceaudit.service.keys import KeyStore, Role

FACES_SMALL = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "faces-small"


def faces_small() -> Path:
    """The shared sample faces, or skip the test."""
    if not FACES_SMALL.is_dir():
        pytest.skip(f"{FACES_SMALL} is absent because ../shared is absent")
    return FACES_SMALL


@contextmanager
def serve(home: Home, settings: ServiceSettings | None = None) -> Iterator[str]:
    """Run the service for ``home`` in a thread; yield its base URL; stop it afterwards."""
    app = create_app(home, settings)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="on", timeout_keep_alive=5)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        sock.close()
        app.state.context.jobs.shutdown()


@dataclass
class Service:
    """A running service, its home and one key per role."""

    url: str
    home: Home
    tokens: dict[Role, str]

    def client(self, role: Role | None = None, **kwargs) -> httpx.Client:
        """An httpx client for the service, sending ``role``'s key (none if None)."""
        headers = {"X-API-Key": self.tokens[role]} if role else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=120, **kwargs)


def make_keys(home: Home) -> dict[Role, str]:
    """Create one key per role, actor ``<role>-1``."""
    store = KeyStore(home)
    return {role: store.create(role.value, f"{role.value}-1")[1] for role in Role}
