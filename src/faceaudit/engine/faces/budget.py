"""A per-call time limit for image work, checked between stages (decode, detect, embed).

The service sets it around each request (``with time_limit(seconds): ...``); the engine calls
:func:`check_time` before each expensive stage, so a request that has used up its time stops at
the next stage with :class:`~faceaudit.base.errors.TimeLimitError` instead of running on. Without a
limit set (the CLI, the library) the checks do nothing.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from faceaudit.base.errors import TimeLimitError

_DEADLINE: ContextVar[float | None] = ContextVar("faceaudit_image_deadline", default=None)
_PIXEL_CAP: ContextVar[int | None] = ContextVar("faceaudit_pixel_cap", default=None)


@contextmanager
def pixel_limit(max_pixels: int) -> Iterator[None]:
    """Refuse images of more than ``max_pixels`` pixels decoded inside the block (the
    service's ``max_pixels``); the decoder's own limit still applies when it is lower."""
    token = _PIXEL_CAP.set(max_pixels)
    try:
        yield
    finally:
        _PIXEL_CAP.reset(token)


def pixel_cap(max_pixels: int) -> int:
    """``max_pixels``, lowered to the current :func:`pixel_limit` when one is set."""
    cap = _PIXEL_CAP.get()
    return max_pixels if cap is None else min(max_pixels, cap)


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Limit the image work done inside the block (in this thread/context) to ``seconds``."""
    token = _DEADLINE.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def time_left() -> float | None:
    """Seconds left of the current :func:`time_limit` (None without one; may be negative)."""
    deadline = _DEADLINE.get()
    return None if deadline is None else deadline - time.monotonic()


def check_time(stage: str) -> None:
    """Raise :class:`TimeLimitError` if the current time limit has passed before ``stage``."""
    deadline = _DEADLINE.get()
    if deadline is not None and time.monotonic() > deadline:
        raise TimeLimitError(f"the request's time limit ran out before {stage}")
