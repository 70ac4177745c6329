"""docker-compose.yml, the documented production path (docs/deploy.md), checked by parsing:
one PostgreSQL + pgvector database, two service replicas on it, state on named volumes."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def replicas(compose: dict) -> dict[str, dict]:
    return {name: service for name, service in compose["services"].items()
            if service.get("command", [None])[0] == "serve"}


def test_one_postgres_with_pgvector_that_deletes_retired_wal(compose):
    db = compose["services"]["db"]
    assert db["image"].startswith("pgvector/pgvector:")
    assert "wal_recycle=off" in db["command"]  # docs/deploy.md, "Erasure"
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    named = {v.split(":")[0] for v in db["volumes"]}
    assert named <= set(compose["volumes"])


def test_two_serve_replicas_share_the_database_and_the_home(compose):
    served = replicas(compose)
    assert len(served) >= 2
    urls, homes, ports = set(), set(), set()
    for service in served.values():
        env = service["environment"]
        # compose interpolates ${VAR:?message} before anyone parses the URL
        url = urlsplit(re.sub(r"\$\{[^}]*\}", "secret", env["FACEAUDIT_DATABASE_URL"]))
        assert url.scheme == "postgresql" and url.hostname == "db"
        urls.add(env["FACEAUDIT_DATABASE_URL"])
        homes.add((env["FACEAUDIT_HOME"], tuple(service["volumes"])))
        assert service["depends_on"]["db"]["condition"] == "service_healthy"
        assert "--host" in service["command"] and "0.0.0.0" in service["command"]
        ports.update(service["ports"])
        for volume in service["volumes"]:
            name, mount = volume.split(":")[:2]
            assert name in compose["volumes"] and env["FACEAUDIT_HOME"].startswith(mount)
    assert len(urls) == 1 and len(homes) == 1  # one database, one home
    assert len(ports) == len(served)  # each replica on its own port


def test_the_home_is_created_once_by_init(compose):
    init = compose["services"]["init"]
    assert init["command"] == ["init"]
    assert init["environment"] == next(iter(replicas(compose).values()))["environment"]
