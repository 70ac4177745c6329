"""Responses of ``/v1/subjects``: enrol, list, erase, export."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from faceaudit.service.schemas.common import Open, Receipt


class Enrolment(Open):
    """A subject enrolled under a consent record."""

    subject_id: str
    templates: int
    template_ids: list[int | str]
    images_kept: int
    backend_id: str
    legal_basis: str
    expires_at: str | None
    ledger_seq: int
    receipt: Receipt | None
    warnings: list[str] | None = Field(default=None, description="Present when a duplicate "
                                       "face was enrolled anyway (allow_duplicate).")


class Consent(Open):
    """One consent record of a subject."""

    legal_basis: str
    evidence: str | None
    obtained_at: str | None
    expires_at: str | None


class SubjectRow(Open):
    """One enrolled subject as ``gallery list`` shows it: counts, never templates or images."""

    subject_id: str
    display_name: str | None
    created_at: str | None
    templates: int
    images: int
    consents: list[Consent]


class SubjectPage(Open):
    """A page of enrolled subjects, ordered by subject id."""

    subjects: list[SubjectRow]
    total: int
    next_after: str | None = Field(description="Pass as `after` for the next page; null on "
                                   "the last.")


class Erasure(Open):
    """A subject erased: what was deleted, and the ledger event that says so."""

    subject_id: str
    templates: int
    images: int
    ledger_seq: int


class SubjectExport(Open):
    """Everything held and logged about one subject (GDPR Art. 15)."""

    subject_id: str
    exported_at: str
    erasure: dict[str, Any] = Field(description="{state, …}: enrolled, erased or not enrolled.")
    held: dict[str, Any] = Field(description="subject, consents, templates (never embeddings), "
                                 "kept_images, candidate_in.")
    logged: list[dict[str, Any]] = Field(description="The ledger events about the subject.")
    ledger_seq: int | None = None
