"""How many threads an onnxruntime session may use: the caller's number, else the user's setting.

``FACEAUDIT_THREADS`` is a user setting (docs/scaling.md), read here and nowhere else: it is the
default when a caller passes no thread count. Internal code passes the count as an argument
(``get_embedder(..., threads=)``), never through the environment.
"""

from __future__ import annotations

import os

THREADS_ENV = "FACEAUDIT_THREADS"


def session_threads(threads: int | None = None, fallback: int | None = None) -> int:
    """The intra-op thread count for a new session.

    ``threads`` when the caller passes one; otherwise the user's ``FACEAUDIT_THREADS``;
    otherwise ``fallback``, or every core this process may use when that is None too.
    """
    if threads:
        return threads
    env = os.environ.get(THREADS_ENV)
    if env:
        return max(1, int(env))
    return max(1, fallback or len(os.sched_getaffinity(0)))
