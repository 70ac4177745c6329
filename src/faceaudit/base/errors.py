"""One exception hierarchy for everything faceaudit refuses.

Every error a user can cause (bad image, bad file, policy refusal, tampered ledger, …) is a
subclass of :class:`FaceAuditError`, so the CLI and the service can turn any of them into a
one-line message or an HTTP problem+json body without a traceback.
"""

from __future__ import annotations


class FaceAuditError(Exception):
    """Base class of every error faceaudit raises on purpose.

    ``code`` is a short stable identifier (used as the problem+json ``type`` suffix);
    ``http_status`` is the status the service answers with and ``exit_code`` the CLI's (the
    README's table: 2 bad input, 4 ledger tampered, 5 refused by policy). ``which`` names the
    file or field the error is about when the message does not (the CLI prints it in
    parentheses: docs/cli.md).
    """

    code = "faceaudit-error"
    http_status = 400
    exit_code = 2
    which: str | None = None

    def __init__(self, *args: object, which: str | None = None) -> None:
        super().__init__(*args)
        if which is not None:
            self.which = which


class ImageError(FaceAuditError):
    """An image could not be used."""

    code = "image-error"
    http_status = 422


class UnreadableImageError(ImageError):
    """The bytes are not an image Pillow can identify (empty, text, unknown format)."""

    code = "image-unreadable"


class TruncatedImageError(ImageError):
    """The image header is valid but its data ends early or is corrupt."""

    code = "image-truncated"


class ImageTooLargeError(ImageError):
    """The image exceeds the byte or pixel limit (decompression bomb guard)."""

    code = "image-too-large"
    http_status = 413


class UnsupportedImageError(ImageError):
    """The image decodes but its mode or layout cannot be converted to RGB."""

    code = "image-unsupported"


class NoFaceError(ImageError):
    """No face was found where one was required."""

    code = "no-face"


class ModelError(FaceAuditError):
    """A model file is missing, malformed or incompatible."""

    code = "model-error"
    http_status = 500


class CalibrationError(FaceAuditError):
    """A calibration file is missing, malformed, or cannot support the target FMR."""

    code = "calibration-error"


class InputDataError(FaceAuditError):
    """A dataset, table or attributes file given by the user is malformed."""

    code = "input-data-error"


class InvalidRequestError(FaceAuditError):
    """A request's arguments are missing, inconsistent or out of range."""

    code = "invalid-request"
    http_status = 422


class StoreTamperedError(FaceAuditError):
    """A row of a store bound to the ledger (``table``, ``row``) disagrees with what the ledger
    records: operations that would rely on it are refused (exit 4, HTTP 503) until the store is
    restored from a copy that agrees with the record."""

    code = "store-tampered"
    http_status = 503
    exit_code = 4

    def __init__(self, message: str, *, table: str, row: str, which: str | None = None) -> None:
        super().__init__(message, which=which)
        self.table = table
        self.row = row


class TimeLimitError(FaceAuditError):
    """The work for one request ran past its time limit (the service answers 503)."""

    code = "time-limit"
    http_status = 503


class ImageInputError(ImageError, ValueError):
    """An in-memory image (array, PIL image, other object) the library cannot take as given.

    Also a :class:`ValueError`, so ``except ValueError`` catches a float or wrongly shaped array.
    """

    code = "image-input"


class SeveralFacesError(ImageError):
    """One face was required but the image holds several; ``count`` says how many.

    One class for the one situation, raised where a face is compared or embedded (the
    library's ``embed``/``verify``, ``POST /v1/verify``) and where an image is enrolled
    (``Deployment.enrol``; :class:`faceaudit.gallery.errors.MultipleFacesError` is the same
    class under its gallery name). Each keeps the public code it has always answered with:
    ``several-faces`` for a face to compare or embed, ``multiple-faces`` (:attr:`ENROLMENT_CODE`)
    for an enrolment image — ``enrolment=True`` picks it, so the problem+json ``type`` and the
    ledger's ``aborted`` reason stay as docs/api.md lists them.
    """

    code = "several-faces"
    ENROLMENT_CODE = "multiple-faces"

    def __init__(self, message: str, count: int, *, enrolment: bool = False) -> None:
        super().__init__(message)
        self.count = count
        if enrolment:
            self.code = self.ENROLMENT_CODE
