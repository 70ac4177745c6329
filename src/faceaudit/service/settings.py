"""The service's limits, in one place."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ServiceSettings:
    """Limits applied to every request.

    ``max_upload_bytes`` caps a whole request body (413 beyond it); the pixel limit is the
    engine's (``ImageTooLargeError`` → 413). ``rate_per_minute`` requests per key per minute,
    with bursts up to ``burst`` (429 with ``Retry-After`` beyond it). ``audit_workers`` is the
    size of the background pool that runs audit jobs.

    Image work (decoding, detection, embedding of uploads) runs in a bounded pool:
    ``image_workers`` requests at once, ``image_queue`` more waiting; a request beyond that is
    answered 503 with ``Retry-After: busy_retry_after_s`` at once, and each request's image work
    must finish within ``image_time_limit_s`` seconds, queueing included (503 otherwise).
    """

    max_upload_bytes: int = 20 * 1024 * 1024
    rate_per_minute: float = 120.0
    burst: int = 30
    audit_workers: int = 1
    image_workers: int = 2
    image_queue: int = 16
    image_time_limit_s: float = 60.0
    busy_retry_after_s: int = 2
