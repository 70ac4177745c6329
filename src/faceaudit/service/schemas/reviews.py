"""Responses of ``/v1/reviews`` and ``/v1/leads``."""

from __future__ import annotations

from pydantic import Field

from faceaudit.service.schemas.common import Open, Receipt


class ShownCandidate(Open):
    """A candidate as a reviewer sees it; ``score``, ``fmr`` and ``rank`` only when the policy
    does not review blind."""

    task_id: str
    subject_id: str | None
    erased: bool
    score: float | None = None
    fmr: float | None = None
    rank: int | None = None


class ReviewTask(Open):
    """One review task (a face's candidate) as this reviewer sees it — never another
    reviewer's decision."""

    task_id: str
    result_id: str
    face: int
    case: str | None
    purpose: str | None
    created_at: str
    age_s: float = Field(description="Seconds since the search.")
    blind: bool
    required_reviewers: int
    candidate: ShownCandidate
    array: list[ShownCandidate] = Field(description="The face's candidates (a photo array).")
    your_decision: str | None


class PendingReviews(Open):
    """The tasks this reviewer may still decide, oldest search first."""

    pending: list[ReviewTask]


class ReviewDecision(ReviewTask):
    """The task after this reviewer's decision, with the decision's ledger event."""

    ledger_seq: int
    receipt: Receipt | None


class LeadState(Open):
    """Where a lead stands after its reviews and records."""

    state: str
    confirms: int
    rejects: int
    disagreement: bool
    required: int


class LeadRecord(Open):
    """An action on, or the outcome of, a confirmed lead."""

    task_id: str
    result_id: str
    face: int
    subject_id: str | None
    step: str = Field(description="action or outcome.")
    kind: str
    evidence: str | None
    recorded_by: str
    lead: LeadState
    ledger_seq: int
    receipt: Receipt | None
