"""Score every pair of templates, on threads here or on a Dask cluster.

The one entry point of the blockwise scorer: :class:`~faceaudit.audit.scoring.TemplateScores`
runs the blocks on threads, :class:`~faceaudit.audit.distributed.DaskScores` on a cluster; the
result is the same, bit for bit. It sits apart from both so that neither imports the other
back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from faceaudit.audit.distributed import DaskScores
from faceaudit.audit.scoring import Progress, ScoreSet, TemplateScores


def score_templates(
    embeddings: np.ndarray,
    identity: np.ndarray,
    group: np.ndarray,
    groups: Sequence[str],
    *,
    workers: int | None = None,
    progress: Progress | None = None,
    pass2_progress: Callable[[], Progress | None] | None = None,
    client: object | None = None,
) -> ScoreSet:
    """Score every pair of templates; see :mod:`faceaudit.audit.scoring`.

    ``identity`` and ``group`` are integer codes (N,); ``groups`` names the group codes.
    ``pass2_progress`` is called when pass 2 starts and returns its progress callback.
    ``client`` (a ``dask.distributed.Client``) runs the blocks on its cluster instead of
    ``workers`` threads; the result is the same, bit for bit.
    """
    if client is not None:
        scorer: TemplateScores = DaskScores(client, embeddings, identity, group, len(groups))
    else:
        scorer = TemplateScores(embeddings, identity, group, len(groups), workers=workers)
    result = scorer.score(progress)
    result.groups = list(groups)

    def counter(thresholds: np.ndarray, pair_thresholds: np.ndarray | None = None):
        cb = pass2_progress() if pass2_progress is not None else None
        return scorer.count_impostors(thresholds, cb, pair_thresholds)

    result.counter = counter
    return result
