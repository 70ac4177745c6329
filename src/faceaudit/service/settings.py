"""The service's limits, in one place: defaults, ``FACEAUDIT_*`` environment variables, and the
``faceaudit serve`` flags, validated before the service starts (docs/api.md, "Limits")."""

from __future__ import annotations

from typing import Any

from pydantic import NonNegativeInt, PositiveFloat, PositiveInt, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from faceaudit.base.errors import InputDataError
from faceaudit.engine.faces.image import DEFAULT_MAX_PIXELS

ENV_PREFIX = "FACEAUDIT_"


class ServiceSettings(BaseSettings):
    """Limits applied to every request.

    ``max_upload_bytes`` caps a whole request body (413 beyond it); ``max_pixels`` caps an
    uploaded image's pixels, checked from its header before decoding (413 beyond it; never above
    the engine's own limit). ``rate_per_minute`` requests per key per minute, with bursts up to
    ``burst`` (429 with ``Retry-After`` beyond it). ``audit_workers`` is the size of the
    background pool that runs audit jobs.

    Image work (decoding, detection, embedding of uploads) runs in a bounded pool:
    ``image_workers`` requests at once, ``image_queue`` more waiting; a request beyond that is
    answered 503 with ``Retry-After: busy_retry_after_s`` at once, and each request's image work
    must finish within ``image_time_limit_s`` seconds, queueing included (503 otherwise). One
    key may have at most ``uploads_per_key`` requests in that pool at once (429 with
    ``Retry-After: busy_retry_after_s`` beyond it). Uploads are decoded in ``decode_workers``
    worker processes (0: in the request's thread), replaced after
    ``decode_workers × decode_tasks_per_child`` decodes so that the memory a hostile file made
    them take is returned.

    Slow clients: a request's headers must arrive within ``header_timeout_s`` of the connection
    opening (or of its first byte on a kept-alive connection) and its body within
    ``body_timeout_s`` of the headers, or the connection is answered 408 and closed (logged);
    an idle kept-alive connection is closed after ``keep_alive_s``.

    Each field can be set by the environment variable ``FACEAUDIT_<FIELD>`` (e.g.
    ``FACEAUDIT_RATE_PER_MINUTE=600``); keyword arguments (the ``serve`` flags) win over it.
    """

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, extra="forbid")

    max_upload_bytes: PositiveInt = 20 * 1024 * 1024
    max_pixels: PositiveInt = DEFAULT_MAX_PIXELS
    rate_per_minute: PositiveFloat = 120.0
    burst: PositiveInt = 30
    audit_workers: PositiveInt = 1
    image_workers: PositiveInt = 2
    image_queue: NonNegativeInt = 16
    image_time_limit_s: PositiveFloat = 60.0
    busy_retry_after_s: PositiveInt = 2
    header_timeout_s: PositiveFloat = 10.0
    body_timeout_s: PositiveFloat = 60.0
    keep_alive_s: PositiveFloat = 5.0
    uploads_per_key: PositiveInt = 8  # below image_workers + image_queue: one key cannot fill it
    decode_workers: NonNegativeInt = 2
    decode_tasks_per_child: PositiveInt = 20

    @classmethod
    def load(cls, **flags: Any) -> ServiceSettings:
        """Defaults, then the environment, then ``flags`` that are not None; an invalid value
        is an :class:`~faceaudit.base.errors.InputDataError` naming the flag and the variable."""
        try:
            return cls(**{name: value for name, value in flags.items() if value is not None})
        except ValidationError as exc:
            problem = exc.errors()[0]
            field = str(problem["loc"][0]) if problem["loc"] else "?"
            flag = "--" + field.replace("_", "-")
            raise InputDataError(
                f"service limit {field}: {problem['msg'].lower()}",
                which=f"{flag} or {ENV_PREFIX}{field.upper()}",
            ) from None

    def describe(self) -> str:
        """The limits on one line, as ``faceaudit serve`` logs them at start-up."""
        return " ".join(f"{name}={value:g}" if isinstance(value, float) else f"{name}={value}"
                        for name, value in self.model_dump().items())
