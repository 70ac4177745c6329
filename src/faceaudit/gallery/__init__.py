"""The consented gallery: subjects, consent, templates, and 1:N search over them."""

from faceaudit.gallery.errors import (
    AlreadyDecidedError,
    BackendMismatchError,
    ConsentError,
    GalleryError,
    InvalidRequestError,
    InvalidSubjectIdError,
    MultipleFacesError,
    UnknownResultError,
    UnknownReviewTaskError,
    UnknownSubjectError,
)
from faceaudit.gallery.store import Consent, GalleryStore, NewTemplate, SqliteGalleryStore
from faceaudit.gallery.template_search import INDEX_MIN_TEMPLATES, Hit, TemplateSearch, exact_top_k

__all__ = [
    "INDEX_MIN_TEMPLATES",
    "AlreadyDecidedError",
    "BackendMismatchError",
    "Consent",
    "ConsentError",
    "GalleryError",
    "GalleryStore",
    "Hit",
    "InvalidRequestError",
    "InvalidSubjectIdError",
    "MultipleFacesError",
    "NewTemplate",
    "SqliteGalleryStore",
    "TemplateSearch",
    "UnknownResultError",
    "UnknownReviewTaskError",
    "UnknownSubjectError",
    "exact_top_k",
]
