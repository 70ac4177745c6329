"""The blockwise scorer on a Dask cluster: one task per block ``(a, b)``, reduced here.

The templates and the block layout (:class:`faceaudit.audit.scoring.Blocks`) are scattered to
every worker once (``broadcast=True``); each task names only its two chunk numbers. Results
are summed as they complete (``as_completed``), and the reduction in
:class:`~faceaudit.audit.scoring.TemplateScores` checks that every block came back exactly once
and that the counts add up to ``n(n-1)/2``. A worker that dies mid-run loses its tasks and the
results it still held; the scheduler recomputes them elsewhere (the scattered templates have a
replica on every worker). When it cannot — every worker lost, or a task killed more than
``distributed.scheduler.allowed-failures`` times — the audit fails with :class:`ClusterError`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import numpy as np

from faceaudit.audit.scoring import BLOCK, TemplateScores, blas
from faceaudit.base.dask_cluster import ClusterError
from faceaudit.base.errors import FaceAuditError


def _run_block(task: Callable, data, a: int, b: int, *args):
    """Run one block task on a worker with single-threaded BLAS (one task per worker thread)."""
    with blas().limit(limits=1):
        return task(data, a, b, *args)


class DaskScores(TemplateScores):
    """:class:`TemplateScores` whose blocks run on the cluster of a ``distributed.Client``."""

    def __init__(
        self,
        client,
        embeddings: np.ndarray,
        identity: np.ndarray,
        group: np.ndarray,
        n_groups: int,
        *,
        block: int = BLOCK,
    ) -> None:
        super().__init__(embeddings, identity, group, n_groups, workers=1, block=block)
        self.client = client
        self._remote = None  # the scattered Blocks, sent once for both passes

    def _map(self, task: Callable, *args) -> Iterator:
        """Submit one task per block; yield the results as they complete."""
        from distributed import as_completed

        client = self.client
        if self._remote is None:
            self._remote = client.scatter(self.data, broadcast=True, hash=False)
        else:  # pass 2: a worker that replaced a lost one gets its copy up front
            client.replicate([self._remote])
        run = uuid.uuid4().hex[:8]
        futures = {
            client.submit(
                _run_block, task, self._remote, a, b, *args,
                key=f"faceaudit-{task.__name__}-{run}-{a}-{b}", pure=False,
            ): (a, b)
            for a, b in self.blocks
        }
        try:
            for future in as_completed(futures):
                try:
                    result = future.result()
                except FaceAuditError:
                    raise
                except Exception as exc:  # a lost worker, a cancelled key, a remote error
                    a, b = futures[future]
                    raise ClusterError(
                        f"the Dask cluster did not finish block ({a}, {b}) of {task.__name__}: "
                        f"{type(exc).__name__}: {exc}"
                    ) from None
                future.release()
                yield result
        finally:
            client.cancel([f for f in futures if not f.done()])
