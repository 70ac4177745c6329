"""Connect to a Dask cluster for ``--cluster`` / ``FACEAUDIT_DASK`` (the ``faceaudit[dask]`` extra).

``ADDRESS`` is a running ``dask.distributed`` scheduler (``tcp://host:8786``) or ``local:N``: a
``LocalCluster`` of N worker processes on this machine (loopback TCP), started for the command
and closed after it. Dask is imported only here, and only when a cluster is asked for.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

from faceaudit.base.errors import FaceAuditError

if TYPE_CHECKING:
    from distributed import Client

ENV_VAR = "FACEAUDIT_DASK"
_LOCAL = re.compile(r"local:(\d+)")


class ClusterError(FaceAuditError):
    """The Dask cluster cannot be used: not installed, unreachable, or a task was lost."""

    code = "cluster-error"
    http_status = 503


def _dask():
    try:
        import distributed
    except ImportError:
        raise ClusterError("Dask is not installed: pip install 'faceaudit[dask]'",
                           which="--cluster") from None
    return distributed


def _worker_environ() -> dict:
    """Dask's worker environment without ``MALLOC_TRIM_THRESHOLD_``.

    Setting it turns off glibc's adaptive mmap threshold, so every block's tens of megabytes of
    temporaries are mapped and faulted in afresh: ~40 % more worker CPU per block, measured
    with bench/audit.py --cluster (docs/scaling.md says how to do the same on a remote cluster).
    """
    import dask

    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", default={}) or {})
    environ.pop("MALLOC_TRIM_THRESHOLD_", None)
    return environ


@contextlib.contextmanager
def open_cluster(address: str) -> Iterator[Client]:
    """A ``distributed.Client`` for ``address`` (see the module docstring), closed on exit."""
    address = address.strip()
    if not address:
        raise ClusterError("empty address: give tcp://HOST:PORT or local:N", which="--cluster")
    distributed = _dask()
    import dask
    local = _LOCAL.fullmatch(address)
    if address.startswith("local") and (local is None or int(local.group(1)) < 1):
        raise ClusterError(f"expected local:N with N >= 1 workers, got {address!r}",
                           which="--cluster")
    if local is not None:
        with dask.config.set({"distributed.nanny.pre-spawn-environ": _worker_environ()}):
            cluster = distributed.LocalCluster(
                n_workers=int(local.group(1)),
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                protocol="tcp",
                dashboard_address="127.0.0.1:0",  # a free port: never clash with another
                silence_logs=logging.ERROR,
            )
        try:
            with distributed.Client(cluster) as client:
                client.faceaudit_address = address
                yield client
        finally:
            cluster.close()
        return
    try:
        client = distributed.Client(address, timeout="10s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise ClusterError(f"cannot reach the Dask scheduler: {exc}", which=address) from None
    with client:
        client.faceaudit_address = address
        yield client


@contextlib.contextmanager
def cluster_client(address: str | None) -> Iterator[Client | None]:
    """The Dask client for ``--cluster`` (``None`` without it: Dask is then never imported)."""
    if not address:
        yield None
        return
    with open_cluster(address) as client:
        yield client


def cluster_provenance(client: Client) -> dict:
    """What a report records about the cluster that computed it."""
    import distributed

    info = client.scheduler_info()
    workers = info.get("workers", {})
    return {
        "address": getattr(client, "faceaudit_address", None),
        "scheduler": info.get("address"),
        "workers": len(workers),
        "threads": sum(int(w.get("nthreads", 0)) for w in workers.values()),
        "distributed_version": distributed.__version__,
    }
