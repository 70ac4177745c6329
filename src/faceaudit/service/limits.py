"""Request limits: a cap on body size (ASGI middleware), a per-key token-bucket rate limit, and
the bounded pool that image work (decode, detect, embed) runs in."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from faceaudit.engine.faces.budget import pixel_limit, time_limit
from faceaudit.engine.faces.decode_pool import DecodePool
from faceaudit.engine.faces.image import DEFAULT_MAX_PIXELS, decoding_with
from faceaudit.service.memory import release_freed_memory
from faceaudit.service.problems import (
    RateLimitedError,
    ServiceBusyError,
    TooManyUploadsError,
    UploadTooLargeError,
    problem_response,
)
from faceaudit.service.settings import ServiceSettings

_DRAIN_LIMIT = 256 * 1024 * 1024


class BodySizeLimitMiddleware:
    """Answer 413 problem+json when a request body exceeds ``max_bytes``.

    A declared ``Content-Length`` over the limit is refused before anything is read; otherwise the
    body is read (and counted) up front, so chunked uploads cannot slip past the limit, and then
    replayed to the application.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the ASGI app with the body limit applied to HTTP requests."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body = message.get("body", b"")
            size += len(body)
            if size > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            chunks.append(body)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Drain (and discard) a bounded amount of the body so that well-behaved clients, which
        # send the whole body before reading, get the 413 rather than a reset connection.
        drained = 0
        more = True
        while more and drained < _DRAIN_LIMIT:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            drained += len(message.get("body", b""))
            more = message.get("more_body", False)
        error = UploadTooLargeError(f"request body exceeds the limit of {self.max_bytes} bytes")
        response = problem_response(error.http_status, error.code, str(error),
                                    headers={"Connection": "close"})
        await response(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class RateLimiter:
    """Per-key token bucket: ``rate_per_minute`` sustained, ``burst`` at once. Thread-safe."""

    def __init__(self, rate_per_minute: float, burst: int) -> None:
        self.rate = rate_per_minute / 60.0
        self.burst = float(burst)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def hit(self, key_id: str) -> None:
        """Spend one token for ``key_id`` or raise :class:`RateLimitedError` with Retry-After."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key_id, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens < 1.0:
                self._buckets[key_id] = (tokens, now)
                raise RateLimitedError(max(1, math.ceil((1.0 - tokens) / self.rate)))
            self._buckets[key_id] = (tokens - 1.0, now)


class PerKeyUploads:
    """At most ``limit`` requests of one key in image work at once; thread-safe.

    :meth:`hold` refuses the one beyond at once with :class:`TooManyUploadsError` (429,
    ``Retry-After``), so that one key cannot fill the image pool's queue for everyone else.
    """

    def __init__(self, limit: int, retry_after_s: int) -> None:
        if limit < 1:
            raise ValueError("uploads per key must be at least 1")
        self.limit = limit
        self.retry_after_s = retry_after_s
        self._active: dict[str, int] = {}
        self._lock = threading.Lock()

    @contextmanager
    def hold(self, key_id: str) -> Iterator[None]:
        """Count one upload of ``key_id`` for the block, or refuse it if the key is at its limit."""
        with self._lock:
            active = self._active.get(key_id, 0)
            if active >= self.limit:
                raise TooManyUploadsError(
                    f"this key already has {active} uploads in work, the most it may have at"
                    " once", self.retry_after_s)
            self._active[key_id] = active + 1
        try:
            yield
        finally:
            with self._lock:
                left = self._active[key_id] - 1
                if left:
                    self._active[key_id] = left
                else:
                    del self._active[key_id]


class ImageWorkPool:
    """At most ``workers`` requests do image work at once, ``queue`` more may wait, no more.

    :meth:`slot` admits a request or refuses it at once with :class:`ServiceBusyError` (503,
    ``Retry-After``) when every worker is busy and the queue is full. An admitted request waits
    for a worker, then runs under the engine's time limit (``faceaudit.engine.faces.budget``): the
    whole request, waiting included, gets ``time_limit_s`` seconds; when they run out the engine
    stops at its next stage with ``TimeLimitError`` (503). With a ``decoder``
    (:class:`~faceaudit.engine.faces.decode_pool.DecodePool`), uploads are decoded in its worker
    processes. Thread-safe.
    """

    def __init__(self, workers: int, queue: int, time_limit_s: float, retry_after_s: int,
                 max_pixels: int = DEFAULT_MAX_PIXELS, uploads_per_key: int | None = None,
                 decoder: DecodePool | None = None) -> None:
        if workers < 1 or queue < 0 or time_limit_s <= 0:
            raise ValueError("image pool needs workers >= 1, queue >= 0, time limit > 0")
        self.max_pixels = max_pixels
        self.workers = workers
        self.queue = queue
        self.time_limit_s = time_limit_s
        self.retry_after_s = retry_after_s
        self._running = threading.BoundedSemaphore(workers)
        self._admitted = threading.BoundedSemaphore(workers + queue)
        self.per_key = PerKeyUploads(uploads_per_key or workers + queue, retry_after_s)
        self.decoder = decoder

    @contextmanager
    def slot(self, key_id: str | None = None) -> Iterator[None]:
        """Hold one image worker for the block, under the per-request time and pixel limits
        (and, with ``key_id``, within that key's share: :class:`PerKeyUploads`)."""
        if key_id is not None:
            with self.per_key.hold(key_id), self.slot():
                yield
            return
        began = time.monotonic()
        if not self._admitted.acquire(blocking=False):
            raise ServiceBusyError(
                f"all {self.workers} image workers are busy and {self.queue} requests are"
                " waiting", self.retry_after_s)
        try:
            if not self._running.acquire(timeout=self.time_limit_s):
                raise ServiceBusyError(
                    f"no image worker became free within {self.time_limit_s:g} s",
                    self.retry_after_s)
            try:
                with time_limit(self.time_limit_s - (time.monotonic() - began)), \
                        pixel_limit(self.max_pixels), \
                        decoding_with(None if self.decoder is None else self.decoder.decode):
                    yield
            finally:
                self._running.release()
                release_freed_memory()  # what the image work freed goes back to the system
        finally:
            self._admitted.release()

    def shutdown(self) -> None:
        """Stop the decoder's worker processes, if any."""
        if self.decoder is not None:
            self.decoder.shutdown()


def decode_pool(settings: ServiceSettings) -> DecodePool | None:
    """The settings' decode worker pool (None when ``decode_workers`` is 0: decode in-thread)."""
    if settings.decode_workers == 0:
        return None
    return DecodePool(settings.decode_workers, settings.decode_tasks_per_child)
