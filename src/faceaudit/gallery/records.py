"""The values a gallery store takes and gives: a consent record, a template to enrol, the
templates of one backend, what a write changed, and a write's logged intent.

They sit below :mod:`faceaudit.gallery.store` (which re-exports them) so that the search
modules and the storage adapters can use them without importing the store.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np


def utc_iso(moment: datetime) -> str:
    """Return ``moment`` as a second-precision UTC ISO-8601 string (naive means UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Consent:
    """The legal basis on which a subject's face is held, and until when."""

    legal_basis: str
    evidence: str
    obtained_at: datetime
    expires_at: datetime | None = None


@dataclass(frozen=True)
class NewTemplate:
    """One embedding to enrol, with the detector score of the face it came from."""

    embedding: np.ndarray
    detector_score: float | None = None
    image_sha256: str | None = None


@dataclass(frozen=True)
class TemplateSet:
    """Every template of one backend: row ``i`` of ``embeddings`` belongs to ``subject_ids[i]``."""

    template_ids: np.ndarray
    subject_ids: list[str]
    embeddings: np.ndarray
    generation: int


@dataclass(frozen=True)
class WriteResult:
    """What a write changed: affected template ids and the store generation after it."""

    template_ids: list[int]
    generation: int
    subject_ids: list[str] = field(default_factory=list)
    images: int = 0
    image_sha256s: list[str] = field(default_factory=list)
    #: an enrolment's commitments to the rows it wrote (gallery/commitments.py): each
    #: ``(template_id, commitment)``, and the consent record's
    template_commitments: list[tuple[int, str]] = field(default_factory=list)
    consent_commitment: str | None = None


@dataclass(frozen=True)
class SubjectRows:
    """One subject as the store holds it, as commitments: its templates' ``(template_id,
    commitment)`` and its consent records' commitments."""

    subject_id: str
    templates: list[tuple[int, str]]
    consents: list[str]


@dataclass(frozen=True)
class RowCensus:
    """How many template and consent rows the store holds, and the ledger events of the writes
    committed but not yet recorded (``pending_events``), read in one transaction — so a write
    in flight is accounted for, never mistaken for a tampered row."""

    templates: int
    consents: int
    pending: list[dict[str, Any]]


@dataclass(frozen=True)
class PendingRows:
    """Every subject's rows as commitments and the pending outcome events (as in
    :class:`RowCensus`), read in one transaction."""

    subjects: list[SubjectRows]
    pending: list[dict[str, Any]]


@dataclass(frozen=True)
class Intent:
    """A logged intent to write: its id and how to build the ledger events of the outcome.

    The store calls ``events(outcome)`` inside the write transaction and keeps the result in
    ``pending_events`` until :meth:`~faceaudit.gallery.store.GalleryStore.clear_intent`, so the
    commit and the record of it can never part: recovery appends what is pending.
    """

    intent_id: str
    events: Callable[[Any], list[dict[str, Any]]]
