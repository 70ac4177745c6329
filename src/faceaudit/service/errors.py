"""The errors only the service raises, each with its stable problem ``code`` and HTTP status.

Kept apart from :mod:`faceaudit.service.problems` (which turns them into problem+json responses)
so that the CLI's ``keys`` commands can raise them without importing the web framework.
"""

from __future__ import annotations

from faceaudit.base.errors import FaceAuditError, StoreTamperedError


class ServiceError(FaceAuditError):
    """Base of the errors only the service raises (authentication, limits, unknown ids)."""

    code = "service-error"
    http_status = 400


class AuthenticationError(ServiceError):
    """No API key, or a key that is unknown or revoked."""

    code = "unauthenticated"
    http_status = 401


class PermissionDeniedError(ServiceError):
    """The key is valid but its role may not call this endpoint."""

    code = "forbidden"
    http_status = 403


class UploadTooLargeError(ServiceError):
    """The request body exceeds the service's upload limit."""

    code = "upload-too-large"
    http_status = 413


class RateLimitedError(ServiceError):
    """The key has used up its request budget; retry after ``retry_after`` seconds."""

    code = "rate-limited"
    http_status = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"rate limit exceeded; retry after {retry_after} s")
        self.retry_after = retry_after


class TooManyUploadsError(ServiceError):
    """The key already has as many uploads in work as it may; retry after ``retry_after`` s."""

    code = "too-many-uploads"
    http_status = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ServiceBusyError(ServiceError):
    """Every image worker is busy and the queue is full; retry after ``retry_after`` seconds."""

    code = "busy"
    http_status = 503

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NotFoundError(ServiceError):
    """The requested resource (audit job, report) does not exist."""

    code = "not-found"
    http_status = 404


class KeyStoreError(ServiceError):
    """An API key operation was given bad input (unknown role, unknown key id)."""

    code = "key-error"
    http_status = 400


class KeyStoreTamperedError(StoreTamperedError, ServiceError):
    """A row of the key store disagrees with what the ledger records about that key (a role
    changed, a revocation undone, a token hash replaced, a key no event created): no request is
    served with it until the store is restored from the record."""

    code = "keys-tampered"
    http_status = 503
    exit_code = 4


class PayloadError(ServiceError):
    """The request payload is well-formed HTTP but unusable (e.g. an empty upload)."""

    code = "invalid-payload"
    http_status = 422
