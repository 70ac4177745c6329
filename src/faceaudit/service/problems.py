"""Errors as RFC 9457 ``application/problem+json`` — the only error shape a client ever sees.

Every :class:`~faceaudit.base.errors.FaceAuditError` becomes a problem whose ``type`` is
``https://faceaudit.dev/problems/<code>`` (stable), with ``title``, ``status`` and ``detail``.
HTTP errors raised by the framework (404, 405, …) and request validation errors (422) get the same
shape, and a catch-all turns any unexpected exception into a 500 problem without a traceback.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from faceaudit.base.errors import FaceAuditError, StoreTamperedError, TimeLimitError
from faceaudit.service.errors import (
    AuthenticationError as AuthenticationError,
)
from faceaudit.service.errors import (
    KeyStoreError as KeyStoreError,
)
from faceaudit.service.errors import (
    NotFoundError as NotFoundError,
)
from faceaudit.service.errors import (
    PayloadError as PayloadError,
)
from faceaudit.service.errors import (
    PermissionDeniedError as PermissionDeniedError,
)
from faceaudit.service.errors import (
    RateLimitedError as RateLimitedError,
)
from faceaudit.service.errors import (
    ServiceBusyError as ServiceBusyError,
)
from faceaudit.service.errors import (  # re-exported: callers import them from here too
    ServiceError as ServiceError,
)
from faceaudit.service.errors import (
    TooManyUploadsError as TooManyUploadsError,
)
from faceaudit.service.errors import (
    UploadTooLargeError as UploadTooLargeError,
)

PROBLEM_BASE = "https://faceaudit.dev/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"

log = logging.getLogger("faceaudit.service")


def problem_response(
    status: int,
    code: str,
    detail: str,
    *,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    """Build one problem+json response with a stable ``type`` derived from ``code``."""
    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
    }
    if extra:
        body.update(extra)
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_MEDIA_TYPE)


def error_response(exc: FaceAuditError) -> JSONResponse:
    """Turn a typed faceaudit error into its problem response (adds Retry-After, rule, …)."""
    headers: dict[str, str] = {}
    extra: dict[str, Any] = {}
    if isinstance(exc, RateLimitedError | ServiceBusyError | TooManyUploadsError):
        headers["Retry-After"] = str(exc.retry_after)
    elif isinstance(exc, TimeLimitError):
        headers["Retry-After"] = str(getattr(exc, "retry_after", 1))
    if isinstance(exc, AuthenticationError):
        headers["WWW-Authenticate"] = 'Bearer realm="faceaudit"'
    rule = getattr(exc, "rule", None)
    if isinstance(rule, str):
        extra["rule"] = rule
    if isinstance(exc, StoreTamperedError):
        extra.update(table=exc.table, row=exc.row)
    detail = str(exc) or exc.__class__.__doc__ or exc.code
    return problem_response(exc.http_status, exc.code, detail, headers=headers, extra=extra)


_HTTP_CODES = {
    400: "bad-request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    413: "upload-too-large",
    415: "unsupported-media-type",
    429: "rate-limited",
}


async def _faceaudit_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, FaceAuditError)
    return error_response(exc)


async def _http_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, f"http-{exc.status_code}")
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    headers = dict(exc.headers) if exc.headers else None
    return problem_response(exc.status_code, code, detail, headers=headers)


async def _validation_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": [str(part) for part in err.get("loc", ())], "msg": str(err.get("msg", ""))}
        for err in exc.errors()
    ]
    detail = "; ".join(f"{'.'.join(e['loc'])}: {e['msg']}" for e in errors) or "invalid request"
    return problem_response(422, "invalid-request", detail, extra={"errors": errors})


async def _unexpected_handler(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(500, "internal-error", "the server failed to handle this request")


def install_problem_handlers(app: FastAPI) -> None:
    """Register the handlers that make every error response problem+json."""
    app.add_exception_handler(FaceAuditError, _faceaudit_handler)
    app.add_exception_handler(StarletteHTTPException, _http_handler)
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(Exception, _unexpected_handler)
