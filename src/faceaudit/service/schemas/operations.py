"""Responses of the operations: ``POST /v1/verify`` and ``POST /v1/identify``."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from faceaudit.service.schemas.common import FaceBox, Open, Receipt


class VerifyAnswer(Open):
    """A 1:1 comparison at the threshold of the policy's target FMR."""

    score: float = Field(description="Cosine similarity, higher is closer.")
    threshold: float = Field(description="The score at the policy's fmr_target.")
    fmr_target: float
    match: bool = Field(description="score >= threshold.")
    backend_id: str
    subject_id: str | None = Field(description="The enrolled subject compared with, if any.")
    receipt: Receipt | None = Field(description="null only when no signing key is at hand.")


class Candidate(Open):
    """One candidate of a face: a lead for human review, never an identification."""

    subject_id: str
    score: float
    fmr: float = Field(description="The false-match rate this score corresponds to.")
    rank: int


class FoundFace(Open):
    """One face of the probe with its candidates, best first."""

    box: FaceBox
    candidates: list[Candidate]


class IdentifyAnswer(Open):
    """A 1:N search: the candidates of every face, which a person must review."""

    result_id: str
    faces: list[FoundFace] = Field(description="Empty while an urgent search is held.")
    held_until: str | None = Field(description="An urgent search's deadline, else null.")
    record: dict[str, Any] = Field(description="The Art. 12(3) use record (docs/decisions.md).")
    requires_review: bool
    threshold: float
    fmr_target: float
    backend_id: str
    receipt: Receipt | None
