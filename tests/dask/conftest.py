"""A real Dask cluster for the distributed tests: 2 worker processes over TCP on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

pytest.importorskip("distributed", reason="Dask is not installed (pip install 'faceaudit[dask]')")


@pytest.fixture(scope="session")
def dask_client() -> Iterator:
    """One ``LocalCluster`` of 2 worker processes for the whole session, closed at the end."""
    from faceaudit.base.dask_cluster import open_cluster

    with open_cluster("local:2") as client:
        yield client
