"""Everything one running service shares between requests."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fastapi import Request

from faceaudit.base.home import Home
from faceaudit.service.keys import KeyStore
from faceaudit.service.limits import ImageWorkPool, RateLimiter
from faceaudit.service.settings import ServiceSettings

if TYPE_CHECKING:
    from faceaudit.deployment.operations import Deployment
    from faceaudit.service.jobs import AuditJobs


@dataclass
class ServiceContext:
    """The home, its key store, the rate limiter, the image pool, the audit jobs and the core.

    ``deployment`` is the same :class:`~faceaudit.deployment.operations.Deployment` the CLI uses,
    created on
    first use (the face model inside it loads lazily, once per process).
    """

    home: Home
    settings: ServiceSettings
    keys: KeyStore
    limiter: RateLimiter
    jobs: AuditJobs
    images: ImageWorkPool
    _deployment: Deployment | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def deployment(self) -> Deployment:
        """The deployment core shared by every request."""
        with self._lock:
            if self._deployment is None:
                from faceaudit.deployment.operations import Deployment

                # a stale search graph is rebuilt in a background thread, exact search
                # answering meanwhile: the service starts at once whatever the gallery size
                self._deployment = Deployment(self.home, background_index=True)
            return self._deployment


def get_context(request: Request) -> ServiceContext:
    """FastAPI dependency: the service context stored on the application."""
    return request.app.state.context
