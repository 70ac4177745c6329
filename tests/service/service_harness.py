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
import numpy as np
import pytest
import uvicorn

from faceaudit.base.home import Home
from faceaudit.deployment.operations import Deployment
from faceaudit.engine.calibration import Calibration
from faceaudit.service.app import create_app
from faceaudit.service.keys import KeyStore, Role
from faceaudit.service.server import server_config
from faceaudit.service.settings import ServiceSettings

FACES_SMALL = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "faces-small"


def faces_small() -> Path:
    """The shared sample faces, or skip the test."""
    if not FACES_SMALL.is_dir():
        pytest.skip(f"{FACES_SMALL} is absent because ../shared is absent")
    return FACES_SMALL


@contextmanager
def serve(home: Home, settings: ServiceSettings | None = None,
          deployment: Deployment | None = None) -> Iterator[str]:
    """Run the service for ``home`` in a thread; yield its base URL; stop it afterwards."""
    app = create_app(home, settings, deployment=deployment)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = server_config(app, log_level="warning", lifespan="on")
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
        app.state.context.images.shutdown()


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


def register_passing_audit(home: Home, backend_id: str, actor: str = "auditor-1") -> dict:
    """Register a signed audit of ``backend_id`` that passes the default bias gate (the home's
    policy is set to trust the auditor's key)."""
    import audit_evidence

    return audit_evidence.register_passing_audit(home, backend_id, actor)


def fake_calibration(backend_id: str = "dlib-resnet:1") -> Calibration:
    """A monotone score→FMR curve with cosine 0.92 at FMR 1e-3 (above the mdtf impostors).

    The service tests check the service, not the threshold; this keeps them independent of
    whether a calibration file ships with the package.
    """
    return Calibration(
        backend_id=backend_id,
        threshold=np.array([0.0, 0.6, 0.8, 0.88, 0.92, 0.94, 0.96, 1.0]),
        fmr=np.array([1.0, 0.3, 0.03, 0.01, 1e-3, 1e-4, 1e-5, 1e-7]),
        n_impostor=100_000_000,
        source="tests",
    )
