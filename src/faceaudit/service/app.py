"""The application factory: ``create_app(home)`` → a FastAPI app serving one deployment home."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI

from faceaudit import __version__
from faceaudit.base.home import Home
from faceaudit.service.context import ServiceContext
from faceaudit.service.docs_pages import install_offline_docs
from faceaudit.service.jobs import AuditJobs
from faceaudit.service.keys import KeyStore
from faceaudit.service.limits import (
    BodySizeLimitMiddleware,
    ImageWorkPool,
    RateLimiter,
    decode_pool,
)
from faceaudit.service.memory import tune_allocator
from faceaudit.service.problems import install_problem_handlers
from faceaudit.service.routes import (
    auditor,
    audits,
    authorisations,
    cases,
    health,
    identify,
    ledger,
    policy,
    reports,
    review_page,
    reviews,
    subject_list,
    subjects,
    transparency,
    verify,
)
from faceaudit.service.settings import ServiceSettings

if TYPE_CHECKING:
    from faceaudit.deployment.operations import Deployment

DESCRIPTION = """\
faceaudit's REST service: the same core as the CLI (every call passes through the deployment
policy and is written to the tamper-evident ledger). Authenticate with an API key created by
`faceaudit keys create --role ROLE --actor NAME`, sent as `X-API-Key` or
`Authorization: Bearer`. Every error is `application/problem+json`. See docs/api.md for the role
matrix.
"""


def create_app(
    home: Home, settings: ServiceSettings | None = None, *, deployment: Deployment | None = None
) -> FastAPI:
    """Build the service for ``home`` with ``settings`` (defaults if None).

    ``home`` must have been made by ``faceaudit init`` (:class:`HomeMissingError` otherwise).

    ``deployment`` is the core every operation goes through; by default
    ``Deployment(home)``, created on first use (pass one to choose its embedder or calibration).
    """
    settings = settings or ServiceSettings()
    home.require()
    tune_allocator()  # image buffers go back to the system when freed (service.memory)
    context = ServiceContext(
        home=home,
        settings=settings,
        keys=KeyStore(home),
        limiter=RateLimiter(settings.rate_per_minute, settings.burst),
        jobs=AuditJobs(home, workers=settings.audit_workers),
        images=ImageWorkPool(settings.image_workers, settings.image_queue,
                             settings.image_time_limit_s, settings.busy_retry_after_s,
                             settings.max_pixels, settings.uploads_per_key,
                             decoder=decode_pool(settings)),
        _deployment=deployment,
    )
    app = FastAPI(title="faceaudit", version=__version__, description=DESCRIPTION,
                  docs_url=None, redoc_url=None,  # served offline by install_offline_docs
                  lifespan=_stop_decoders)
    app.state.context = context
    install_problem_handlers(app)
    install_offline_docs(app)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_upload_bytes)
    for module in (health, verify, identify, subject_list, subjects, reviews, ledger, reports,
                   audits, policy, auditor, authorisations, review_page, cases,
                   transparency):
        app.include_router(module.router)
    return app


@asynccontextmanager
async def _stop_decoders(app: FastAPI) -> AsyncIterator[None]:
    """At server shutdown, stop the decode worker processes: uvicorn re-raises the SIGTERM it
    shut down on once it is done, so code after ``Server.run`` never runs and the workers would
    be left behind."""
    yield
    app.state.context.images.shutdown()
