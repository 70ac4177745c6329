"""``GET /v1/policy/status``: whether identification is allowed now, by which audit, or why not."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from faceaudit.policy import policy_status
from faceaudit.service.auth import require
from faceaudit.service.context import ServiceContext, get_context
from faceaudit.service.keys import ApiKey, Role
from faceaudit.service.schemas.policy import PolicyStatus

router = APIRouter(prefix="/v1/policy", tags=["policy"])


@router.get("/status", response_model=PolicyStatus, response_model_exclude_unset=True)
def status(
    key: Annotated[ApiKey, Depends(require(Role.ADMIN, Role.OPERATOR, Role.AUDITOR))],
    ctx: Annotated[ServiceContext, Depends(get_context)],
) -> dict[str, Any]:
    """The bias gate's verdict for the deployed backend now, with one ``sentence`` saying it."""
    return policy_status(ctx.home, ctx.deployment.backend_id)
