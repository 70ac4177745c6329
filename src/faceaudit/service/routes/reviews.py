"""``/v1/reviews``: per-candidate review tasks — the pending list, one task, a decision — and
``/v1/leads``: what was done with a confirmed lead (docs/decisions.md).

The reviewer is always the key's actor. A reviewer never sees another reviewer's decision;
when the policy reviews blind, no score or rank either (:mod:`faceaudit.deployment.reviews`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from faceaudit.deployment.reviews import TaskRef
from faceaudit.service.auth import require
from faceaudit.service.context import ServiceContext, get_context
from faceaudit.service.keys import ApiKey, Role
from faceaudit.service.schemas.reviews import LeadRecord, PendingReviews, ReviewDecision, ReviewTask

router = APIRouter(prefix="/v1", tags=["reviews"])

ID = Field(min_length=1, max_length=200)


class TaskDecision(BaseModel):
    """The reviewer's decision on one review task; the reviewer is the key's actor."""

    decision: Literal["confirm", "reject"]
    note: str | None = Field(default=None, max_length=2000)


class CandidateDecision(TaskDecision):
    """A decision naming its task by result, face index and candidate subject."""

    result_id: str = ID
    face: int = Field(ge=0, le=10_000)
    candidate: str = ID


class LeadAction(BaseModel):
    """An action on a confirmed lead, with the independent evidence it rests on."""

    result_id: str = ID
    face: int = Field(ge=0, le=10_000)
    candidate: str = ID
    kind: str = Field(min_length=1, max_length=40)
    evidence: str | None = Field(default=None, max_length=500)
    by: str = Field(min_length=1, max_length=500)


class LeadOutcome(BaseModel):
    """How a confirmed lead ended."""

    result_id: str = ID
    face: int = Field(ge=0, le=10_000)
    candidate: str = ID
    outcome: Literal["cleared", "charged", "no-further-action"]
    by: str = Field(min_length=1, max_length=500)


@router.get("/reviews", response_model=PendingReviews, response_model_exclude_unset=True)
def pending(
    key: Annotated[ApiKey, Depends(require(Role.REVIEWER))],
    ctx: Annotated[ServiceContext, Depends(get_context)],
) -> dict[str, Any]:
    """The review tasks this reviewer may still decide, oldest first, with ``age_s``."""
    return {"pending": ctx.deployment.pending_reviews(actor=key.actor)}


@router.get("/reviews/{task_id}", response_model=ReviewTask, response_model_exclude_unset=True)
def show(
    task_id: str,
    key: Annotated[ApiKey, Depends(require(Role.REVIEWER))],
    ctx: Annotated[ServiceContext, Depends(get_context)],
) -> dict[str, Any]:
    """One review task as this reviewer sees it (never another reviewer's decision)."""
    return ctx.deployment.review_task(actor=key.actor, ref=TaskRef(task_id=task_id))


@router.post("/reviews/{task_id}/decision", status_code=201, response_model=ReviewDecision,
             response_model_exclude_unset=True)
def decide(
    task_id: str,
    key: Annotated[ApiKey, Depends(require(Role.REVIEWER))],
    ctx: Annotated[ServiceContext, Depends(get_context)],
    body: TaskDecision,
) -> dict[str, Any]:
    """Confirm or reject one candidate of one face."""
    return ctx.deployment.review(actor=key.actor, ref=TaskRef(task_id=task_id),
                                 decision=body.decision, note=body.note)


@router.post("/reviews", status_code=201, response_model=ReviewDecision,
             response_model_exclude_unset=True)
def decide_candidate(
    key: Annotated[ApiKey, Depends(require(Role.REVIEWER))],
    ctx: Annotated[ServiceContext, Depends(get_context)],
    body: CandidateDecision,
) -> dict[str, Any]:
    """Confirm or reject a candidate named by result, face and subject (a face without
    candidates is refused: there is nothing to confirm)."""
    ref = TaskRef(result_id=body.result_id, face=body.face, subject_id=body.candidate)
    return ctx.deployment.review(actor=key.actor, ref=ref, decision=body.decision,
                                 note=body.note)


@router.post("/leads/action", status_code=201, response_model=LeadRecord,
             response_model_exclude_unset=True)
def lead_action(
    key: Annotated[ApiKey, Depends(require(Role.OPERATOR))],
    ctx: Annotated[ServiceContext, Depends(get_context)],
    body: LeadAction,
) -> dict[str, Any]:
    """Record an action on a confirmed lead; refused without independent evidence."""
    ref = TaskRef(result_id=body.result_id, face=body.face, subject_id=body.candidate)
    return ctx.deployment.lead_action(actor=key.actor, ref=ref, kind=body.kind,
                                      evidence=body.evidence, by=body.by)


@router.post("/leads/outcome", status_code=201, response_model=LeadRecord,
             response_model_exclude_unset=True)
def lead_outcome(
    key: Annotated[ApiKey, Depends(require(Role.OPERATOR))],
    ctx: Annotated[ServiceContext, Depends(get_context)],
    body: LeadOutcome,
) -> dict[str, Any]:
    """Record how a confirmed lead ended."""
    ref = TaskRef(result_id=body.result_id, face=body.face, subject_id=body.candidate)
    return ctx.deployment.lead_outcome(actor=key.actor, ref=ref, outcome=body.outcome,
                                       by=body.by)
