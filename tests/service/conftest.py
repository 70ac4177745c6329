"""Fixtures for the service tests (helpers in ``service_harness``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from service_harness import Service, make_keys, serve

from faceaudit.home import Home
from faceaudit.service import ServiceSettings


@pytest.fixture
def service_factory(tmp_path: Path) -> Iterator[Callable[..., Service]]:
    """Start services on demand (each on its own home unless given one)."""
    stack: list = []

    def start(settings: ServiceSettings | None = None, home: Home | None = None) -> Service:
        home = home or Home(tmp_path / f"home{len(stack)}").ensure()
        tokens = make_keys(home)
        ctx = serve(home, settings)
        url = ctx.__enter__()
        stack.append(ctx)
        return Service(url, home, tokens)

    yield start
    for ctx in reversed(stack):
        ctx.__exit__(None, None, None)


@pytest.fixture
def service(service_factory: Callable[..., Service]) -> Service:
    """A running service with default settings and one key per role."""
    return service_factory()
