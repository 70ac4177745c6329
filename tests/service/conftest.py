"""Fixtures for the service tests (helpers in ``service_harness``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from service_harness import Service, fake_calibration, make_keys, serve

from faceaudit.base.home import Home
from faceaudit.deployment.operations import Deployment
from faceaudit.ledger.genesis import init_home
from faceaudit.service.settings import ServiceSettings

# Generous limits for tests that make many calls with one key.
ROOMY = ServiceSettings(rate_per_minute=100_000, burst=10_000)


def _start(stack: ExitStack, home: Home, settings: ServiceSettings | None) -> Service:
    init_home(home)
    tokens = make_keys(home)
    deployment = Deployment(home, calibration=fake_calibration())
    return Service(stack.enter_context(serve(home, settings, deployment)), home, tokens)


@pytest.fixture
def service_factory(tmp_path: Path) -> Iterator[Callable[..., Service]]:
    """Start services on demand, each on a fresh home, stopped after the test."""
    with ExitStack() as stack:
        count = iter(range(1000))
        yield lambda settings=None: _start(stack, Home(tmp_path / f"home{next(count)}"), settings)


@pytest.fixture
def service(service_factory: Callable[..., Service]) -> Service:
    """A running service with default settings and one key per role."""
    return service_factory()


@pytest.fixture(scope="module")
def roomy_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """One service for a whole test module, with rate limits out of the way."""
    with ExitStack() as stack:
        yield _start(stack, Home(tmp_path_factory.mktemp("roomy")), ROOMY)
