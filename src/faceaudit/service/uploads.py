"""Reading uploaded files (the body size was already capped by the middleware)."""

from __future__ import annotations

from fastapi import UploadFile


def read_upload(upload: UploadFile) -> bytes:
    """Return an uploaded file's bytes (an empty upload is left for the engine to refuse)."""
    upload.file.seek(0)
    return upload.file.read()
