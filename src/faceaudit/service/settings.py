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
    must finish within ``image_time_limit_s`` seconds, queueing included (503 otherwise).

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
