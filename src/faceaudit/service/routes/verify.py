"""``POST /v1/verify``: 1:1 comparison of two images, or of an image and an enrolled subject."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, UploadFile

from faceaudit.service.auth import require
from faceaudit.service.context import ServiceContext, get_context
from faceaudit.service.keys import ApiKey, Role
from faceaudit.service.schemas.operations import VerifyAnswer
from faceaudit.service.uploads import read_upload

router = APIRouter(prefix="/v1", tags=["verify"])


@router.post("/verify", response_model=VerifyAnswer, response_model_exclude_unset=True)
def verify(
    key: Annotated[ApiKey, Depends(require(Role.OPERATOR))],
    ctx: Annotated[ServiceContext, Depends(get_context)],
    image_a: Annotated[UploadFile, File(description="The probe image.")],
    image_b: Annotated[UploadFile | None, File(description="A second image.")] = None,
    subject_id: Annotated[str | None, Form(description="Or: an enrolled subject.")] = None,
    purpose: Annotated[str | None, Form()] = None,
    case: Annotated[str | None, Form()] = None,
    face_a: Annotated[int | None, Form(
        ge=0, description="Which face of image_a when it shows several (0 = best score).")] = None,
    face_b: Annotated[int | None, Form(
        ge=0, description="Which face of image_b when it shows several (0 = best score).")] = None,
) -> dict[str, Any]:
    """Compare ``image_a`` with ``image_b`` or with ``subject_id``'s templates (exactly one).

    Returns the score, the threshold at the policy's target FMR, and whether it is a match.
    """
    with ctx.images.slot(key.key_id):
        return ctx.deployment.verify(
            actor=key.actor,
            image_a=read_upload(image_a),
            image_b=None if image_b is None else read_upload(image_b),
            subject_id=subject_id,
            purpose=purpose,
            case=case,
            face_a=face_a,
            face_b=face_b,
        )
