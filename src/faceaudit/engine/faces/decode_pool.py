"""Decoding in worker processes that are replaced after a number of decodes.

A hostile upload (a 40 Mpx PNG of zeros is 38 kB on the wire) makes the decoder allocate
hundreds of MB; freed, that memory mostly stays with the process (allocator arenas,
fragmentation), so a server that decodes in its own threads grows with every burst and never
shrinks back. :class:`DecodePool` decodes in a ``ProcessPoolExecutor`` whose workers exit after
``tasks_per_child`` decodes, so what a burst took is returned to the system; only the decoded
image, at the engine's working size, comes back. The guarded decoder runs unchanged in the
worker (same checks, same typed errors, which cross the process boundary as themselves).

Use it around image work with ``with decoding_with(pool.decode): ...`` (``faces.image``).
"""

from __future__ import annotations

import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool

from faceaudit.base.errors import TimeLimitError, UnreadableImageError
from faceaudit.engine.faces.budget import time_left
from faceaudit.engine.faces.image import DecodedImage, decode_image


class DecodePool:
    """``workers`` decoding processes, each replaced after ``tasks_per_child`` decodes.

    The processes start on first use (``forkserver``: never a fork of a threaded server). A
    decode waits at most the current time limit (``budget.time_limit``); a worker that dies
    mid-decode (a decoder crash, the OOM killer) makes that image an
    :class:`UnreadableImageError` and the pool is rebuilt for the next one. Thread-safe.
    """

    def __init__(self, workers: int, tasks_per_child: int) -> None:
        if workers < 1 or tasks_per_child < 1:
            raise ValueError("a decode pool needs workers >= 1 and tasks_per_child >= 1")
        self.workers = workers
        self.tasks_per_child = tasks_per_child
        self._executor: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def _pool(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ProcessPoolExecutor(
                    max_workers=self.workers, max_tasks_per_child=self.tasks_per_child,
                    mp_context=multiprocessing.get_context("forkserver"))
            return self._executor

    def _drop(self, broken: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._executor is broken:
                self._executor = None
        broken.shutdown(wait=False, cancel_futures=True)

    def decode(self, data: bytes, *, max_pixels: int, max_bytes: int, max_side: int | None,
               name: str) -> DecodedImage:
        """:func:`~faceaudit.engine.faces.image.decode_image` of ``data`` in a worker."""
        executor = self._pool()
        try:
            future = executor.submit(decode_image, bytes(data), max_pixels=max_pixels,
                                     max_bytes=max_bytes, max_side=max_side, name=name)
        except BrokenProcessPool:
            self._drop(executor)
            executor = self._pool()
            future = executor.submit(decode_image, bytes(data), max_pixels=max_pixels,
                                     max_bytes=max_bytes, max_side=max_side, name=name)
        left = time_left()
        try:
            return future.result(timeout=None if left is None else max(0.0, left))
        except FutureTimeout:
            future.cancel()
            raise TimeLimitError("the request's time limit ran out while decoding") from None
        except BrokenProcessPool:
            self._drop(executor)
            raise UnreadableImageError(
                f"{name}: the decoder process died while decoding this image") from None

    def shutdown(self) -> None:
        """Stop the worker processes (a later decode starts new ones)."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
