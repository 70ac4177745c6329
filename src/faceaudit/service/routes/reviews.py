"""``POST /v1/reviews``: a human decision on an identification result."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from faceaudit.service.auth import require
from faceaudit.service.context import ServiceContext, get_context
from faceaudit.service.keys import ApiKey, Role

router = APIRouter(prefix="/v1", tags=["reviews"])


class ReviewRequest(BaseModel):
    """The reviewer's decision; the reviewer is the key's actor."""

    result_id: str = Field(min_length=1, max_length=200)
    decision: Literal["confirm", "reject"]
    note: str | None = Field(default=None, max_length=2000)


@router.post("/reviews", status_code=201)
def review(
    key: Annotated[ApiKey, Depends(require(Role.REVIEWER))],
    ctx: Annotated[ServiceContext, Depends(get_context)],
    body: ReviewRequest,
) -> dict[str, Any]:
    """Confirm or reject the leads of an identification result."""
    return ctx.deployment.review(actor=key.actor, result_id=body.result_id,
                                 decision=body.decision, note=body.note)
