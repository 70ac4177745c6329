"""Errors the gallery raises for requests a user can get wrong."""

from __future__ import annotations

from faceaudit.base.errors import (
    FaceAuditError,
    InputDataError,
    SeveralFacesError,
    StoreTamperedError,
)
from faceaudit.base.errors import InvalidRequestError as InvalidRequestError  # re-exported


class GalleryError(FaceAuditError):
    """A gallery request cannot be carried out as asked."""

    code = "gallery-error"


class UnknownSubjectError(GalleryError):
    """No subject with this id is enrolled."""

    code = "unknown-subject"
    http_status = 404


class UnknownResultError(GalleryError):
    """No identification result with this id exists."""

    code = "unknown-result"
    http_status = 404


class BackendMismatchError(GalleryError):
    """Templates from another embedding backend are refused, never mixed into one gallery."""

    code = "backend-mismatch"
    http_status = 409


#: an enrolment image that shows several faces: the one :class:`SeveralFacesError`, raised
#: with ``enrolment=True`` (code ``multiple-faces``); the gallery's name for it
MultipleFacesError = SeveralFacesError


class ConsentError(InputDataError):
    """The consent record is incomplete or already expired."""

    code = "invalid-consent"


class InvalidSubjectIdError(GalleryError):
    """A subject id must be 1–128 characters of letters, digits and ``._:@-``."""

    code = "invalid-subject-id"


class ErasureBlockedError(GalleryError):
    """Another connection holds the database open for reading, so an erasure could not be
    made complete; nothing was erased."""

    code = "erasure-blocked"
    http_status = 409


class ErasureIncompleteError(GalleryError):
    """The erasure is committed, but a reader kept its bytes in the database files beyond the
    bound; the next compaction removes them. Never reported as success."""

    code = "erasure-incomplete"
    http_status = 503


class ResultHeldError(GalleryError):
    """The result of an urgent search is held until its authorisation is recorded."""

    code = "result-held"
    http_status = 409


class UnknownReviewTaskError(GalleryError):
    """No review task with this id exists (or it was deleted with its search's outputs)."""

    code = "unknown-review-task"
    http_status = 404


class AlreadyDecidedError(GalleryError):
    """This reviewer already decided this review task: one decision per reviewer per task."""

    code = "already-decided"
    http_status = 409


class GalleryTamperedError(StoreTamperedError, GalleryError):
    """A gallery row (a subject, a template, a consent record) disagrees with what the ledger
    recorded of it — a ghost subject, a re-assigned or edited template, a changed consent, a
    deleted row: the operation that would rely on it is refused (exit 4, HTTP 503)."""

    code = "gallery-tampered"
    http_status = 503
    exit_code = 4
