"""``/v1/authorisations``: the authority's decision on urgent searches (docs/decisions.md)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from faceaudit.policy.authorisation import authorisation_from
from faceaudit.service.auth import require
from faceaudit.service.context import ServiceContext, get_context
from faceaudit.service.keys import ApiKey, Role
from faceaudit.service.schemas.authorisations import AuthorisationRecorded, HeldSearches

router = APIRouter(prefix="/v1", tags=["authorisations"])


class AuthorisationDecision(BaseModel):
    """The authority's decision on one held urgent search."""

    decision: Literal["granted", "refused"]
    reference: str | None = Field(default=None, max_length=200)
    authority: str | None = Field(default=None, max_length=200)
    kind: Literal["warrant", "judicial", "administrative"] = "judicial"
    expires_at: str | None = Field(default=None, max_length=64)


@router.get("/authorisations/held", response_model=HeldSearches,
            response_model_exclude_unset=True)
def held(
    key: Annotated[ApiKey, Depends(require(Role.ADMIN))],
    ctx: Annotated[ServiceContext, Depends(get_context)],
) -> dict[str, Any]:
    """The urgent searches waiting for their authorisation, oldest deadline first."""
    return {"held": ctx.deployment.held_searches()}


@router.post("/authorisations/{result_id}", status_code=201,
             response_model=AuthorisationRecorded, response_model_exclude_unset=True)
def record(
    result_id: str,
    key: Annotated[ApiKey, Depends(require(Role.ADMIN))],
    ctx: Annotated[ServiceContext, Depends(get_context)],
    body: AuthorisationDecision,
) -> dict[str, Any]:
    """Record the decision: ``granted`` releases the result, ``refused`` deletes the search's
    outputs (a logged ``outputs_deleted`` event that flags the case)."""
    given = authorisation_from(body.reference, body.authority, body.kind, body.expires_at)
    assert given is not None
    return ctx.deployment.record_authorisation(actor=key.actor, result_id=result_id,
                                               decision=body.decision, authorisation=given)
