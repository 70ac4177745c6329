"""``POST /v1/identify``: 1:N search of every face in a probe image (leads for human review)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, UploadFile

from faceaudit.policy.authorisation import authorisation_from
from faceaudit.service.auth import require
from faceaudit.service.context import ServiceContext, get_context
from faceaudit.service.keys import ApiKey, Role
from faceaudit.service.schemas.operations import IdentifyAnswer
from faceaudit.service.uploads import read_upload

router = APIRouter(prefix="/v1", tags=["identify"])


@router.post("/identify", response_model=IdentifyAnswer, response_model_exclude_unset=True)
def identify(
    key: Annotated[ApiKey, Depends(require(Role.OPERATOR))],
    ctx: Annotated[ServiceContext, Depends(get_context)],
    image: Annotated[UploadFile, File(description="The probe image (never stored).")],
    purpose: Annotated[str | None, Form(description="Why this search is made.")] = None,
    case: Annotated[str | None, Form(description="The case id it belongs to.")] = None,
    top: Annotated[int | None, Form(ge=1, le=1000, description=(
        "Candidates per face, at most (default and maximum: the policy's max_candidates)."
    ))] = None,
    authorisation: Annotated[str | None, Form(
        description="Reference of the authorisation the search runs under.")] = None,
    authority: Annotated[str | None, Form(description="Who issued the authorisation.")] = None,
    authorisation_kind: Annotated[str | None, Form(
        description="warrant, judicial, administrative or urgent (results held until "
                    "authorised: POST /v1/authorisations/{result_id}).")] = None,
    authorisation_expires: Annotated[str | None, Form(
        description="When the authorisation expires (ISO-8601).")] = None,
    offence: Annotated[str | None, Form(
        description="The offence investigated, from the policy's closed list.")] = None,
) -> dict[str, Any]:
    """Search the gallery for every face in ``image``.

    Each candidate carries its score and the FMR that score corresponds to; results are leads
    that require human review (``POST /v1/reviews``). Whether purpose and case are required
    is the policy's call, and so is an authorisation and an offence (a refusal is logged and
    names every missing field).
    """
    given = authorisation_from(authorisation, authority, authorisation_kind,
                               authorisation_expires)
    with ctx.images.slot(key.key_id):
        return ctx.deployment.identify(
            actor=key.actor, image=read_upload(image), purpose=purpose, case=case, top=top,
            authorisation=given, offence=offence,
        )
