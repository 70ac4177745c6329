"""``DELETE /v1/subjects/{id}`` never reports success while the erased bytes stay on disk."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOMY
from service_harness import Service, fake_calibration, make_keys, serve

from faceaudit.deployment.operations import Deployment
from faceaudit.ledger.genesis import init_home
from faceaudit.service.keys import Role


@pytest.fixture
def service_with(tmp_path: Path) -> Iterator[tuple[Service, Deployment]]:
    home = init_home(tmp_path / "home")
    deployment = Deployment(home, calibration=fake_calibration())
    deployment.store.erase_bound_s = 0.3
    with ExitStack() as stack:
        tokens = make_keys(home)
        url = stack.enter_context(serve(home, ROOMY, deployment))
        yield Service(url, home, tokens), deployment


def test_erase_blocked_by_a_reader_is_409_and_erases_nothing(service_with) -> None:
    service, deployment = service_with
    vector = np.zeros(128, np.float32)
    vector[3] = 1.0
    deployment.enrol_templates(actor="clerk", subject_id="s-1", backend_id="dlib-resnet:1",
                               embeddings=vector[None], basis="consent", evidence="form-1")
    reader = sqlite3.connect(service.home.db_path, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM templates").fetchone()
    try:
        with service.client(Role.ADMIN) as client:
            blocked = client.delete("/v1/subjects/s-1")
    finally:
        reader.close()
    assert blocked.status_code == 409, blocked.text
    assert blocked.headers["content-type"] == "application/problem+json"
    assert blocked.json()["type"].endswith("/erasure-blocked")
    assert [s["subject_id"] for s in deployment.list_subjects()] == ["s-1"]
    with service.client(Role.ADMIN) as client:
        done = client.delete("/v1/subjects/s-1")
    assert done.status_code == 200, done.text
    assert deployment.list_subjects() == []
