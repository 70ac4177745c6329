"""``POST /v1/identify``: 1:N search of every face in a probe image (leads for human review)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, UploadFile

from faceaudit.service.auth import require
from faceaudit.service.context import ServiceContext, get_context
from faceaudit.service.keys import ApiKey, Role
from faceaudit.service.uploads import read_upload

router = APIRouter(prefix="/v1", tags=["identify"])


@router.post("/identify")
def identify(
    key: Annotated[ApiKey, Depends(require(Role.OPERATOR))],
    ctx: Annotated[ServiceContext, Depends(get_context)],
    image: Annotated[UploadFile, File(description="The probe image (never stored).")],
    purpose: Annotated[str | None, Form(description="Why this search is made.")] = None,
    case: Annotated[str | None, Form(description="The case id it belongs to.")] = None,
    top: Annotated[int, Form(ge=1, le=100, description="Candidates per face, at most.")] = 10,
) -> dict[str, Any]:
    """Search the gallery for every face in ``image``.

    Each candidate carries its score and the FMR that score corresponds to; results are leads
    that require human review (``POST /v1/reviews``). Whether purpose and case are required
    is the policy's call (a refusal is logged).
    """
    with ctx.images.slot():
        return ctx.deployment.identify(
            actor=key.actor, image=read_upload(image), purpose=purpose, case=case, top=top
        )
