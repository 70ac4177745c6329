"""Decoding in worker processes that are replaced after a number of decodes.

A hostile upload (a 40 Mpx PNG of zeros is 38 kB on the wire) makes the decoder allocate
hundreds of MB; freed, that memory mostly stays with the process (allocator arenas,
fragmentation), so a server that decodes in its own threads grows with every burst and never
shrinks back. :class:`DecodePool` decodes in worker processes that are replaced after about
``tasks_per_child`` decodes each, so what a burst took is returned to the system; only the
decoded image, at the engine's working size, comes back. The guarded decoder runs unchanged in
the worker (same checks, same typed errors, which cross the process boundary as themselves).

The replacement is done here, not by ``ProcessPoolExecutor(max_tasks_per_child=…)``: on
Python 3.11–3.13 that option can leave queued tasks with no worker to run them (CPython
gh-115634, fixed only in later releases), a request hanging until its time limit. Instead,
after ``workers × tasks_per_child`` decodes the whole executor is retired (it finishes what it
was given, then its processes exit) and a fresh one takes the next decodes.

Use it around image work with ``with decoding_with(pool.decode): ...`` (``faces.image``).
"""

from __future__ import annotations

import multiprocessing
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool

from faceaudit.base.errors import TimeLimitError, UnreadableImageError
from faceaudit.engine.faces.budget import time_left
from faceaudit.engine.faces.image import DecodedImage, decode_image

#: Imported once by the fork server, so that a new worker is a cheap fork with the decoder
#: already loaded (``__main__`` first, as multiprocessing does by default).
_PRELOAD = ["__main__", "faceaudit.engine.faces.image"]


class DecodePool:
    """``workers`` decoding processes, replaced after ``workers × tasks_per_child`` decodes.

    The processes start on first use (``forkserver``: never a fork of a threaded server). A
    decode waits at most the current time limit (``budget.time_limit``); a worker that dies
    mid-decode (a decoder crash, the OOM killer) makes that image an
    :class:`UnreadableImageError` and the pool is rebuilt for the next one. Thread-safe.
    ``recycled`` counts the executors retired so far (for tests and monitoring).
    """

    def __init__(self, workers: int, tasks_per_child: int) -> None:
        if workers < 1 or tasks_per_child < 1:
            raise ValueError("a decode pool needs workers >= 1 and tasks_per_child >= 1")
        self.workers = workers
        self.tasks_per_child = tasks_per_child
        self.recycled = 0
        self._executor: ProcessPoolExecutor | None = None
        self._submitted = 0
        self._lock = threading.Lock()

    def _submit(self, data: bytes, *, max_pixels: int, max_bytes: int, max_side: int | None,
                name: str) -> tuple[ProcessPoolExecutor, Future[DecodedImage]]:
        """Hand one decode to the current executor, starting or replacing it as needed."""
        with self._lock:
            retired = None
            if self._executor is not None and \
                    self._submitted >= self.workers * self.tasks_per_child:
                retired, self._executor = self._executor, None
                self.recycled += 1
            if self._executor is None:
                context = multiprocessing.get_context("forkserver")
                context.set_forkserver_preload(_PRELOAD)  # only before the server starts
                self._executor = ProcessPoolExecutor(max_workers=self.workers,
                                                     mp_context=context)
                self._submitted = 0
            executor = self._executor
            self._submitted += 1
            future = executor.submit(decode_image, bytes(data), max_pixels=max_pixels,
                                     max_bytes=max_bytes, max_side=max_side, name=name)
        if retired is not None:
            retired.shutdown(wait=False)  # its running decodes finish, then its workers exit
        return executor, future

    def _drop(self, broken: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._executor is broken:
                self._executor = None
        broken.shutdown(wait=False, cancel_futures=True)

    def decode(self, data: bytes, *, max_pixels: int, max_bytes: int, max_side: int | None,
               name: str) -> DecodedImage:
        """:func:`~faceaudit.engine.faces.image.decode_image` of ``data`` in a worker."""
        def submit() -> tuple[ProcessPoolExecutor, Future[DecodedImage]]:
            return self._submit(data, max_pixels=max_pixels, max_bytes=max_bytes,
                                max_side=max_side, name=name)

        try:
            executor, future = submit()
        except BrokenProcessPool:  # broken before this decode was handed over: a fresh pool
            with self._lock:
                broken, self._executor = self._executor, None
            if broken is not None:
                broken.shutdown(wait=False, cancel_futures=True)
            executor, future = submit()
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
