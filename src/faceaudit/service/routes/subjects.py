"""``POST /v1/subjects`` (enrol with a consent record) and ``DELETE /v1/subjects/{id}`` (erase)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile

from faceaudit.policy import PolicyRefusal
from faceaudit.service.auth import require
from faceaudit.service.context import ServiceContext, get_context
from faceaudit.service.keys import ApiKey, Role
from faceaudit.service.schemas.subjects import Enrolment, Erasure, SubjectExport
from faceaudit.service.uploads import read_upload

router = APIRouter(prefix="/v1", tags=["subjects"])


@router.post("/subjects", status_code=201, response_model=Enrolment,
             response_model_exclude_unset=True)
def enrol(
    key: Annotated[ApiKey, Depends(require(Role.ENROLLER))],
    ctx: Annotated[ServiceContext, Depends(get_context)],
    subject_id: Annotated[str, Form(description="Opaque subject id.")],
    basis: Annotated[str, Form(description="Legal basis (docs/gallery.md), e.g. "
                                           "explicit-consent, or other:<note>.")],
    evidence: Annotated[str, Form(description="Reference to the consent evidence.")],
    images: Annotated[list[UploadFile], File(description="One face per image.")],
    expires_at: Annotated[datetime | None, Form(description="When consent ends.")] = None,
    display_name: Annotated[str | None, Form()] = None,
    keep_images: Annotated[bool, Form(description="Also store the images.")] = False,
    allow_duplicate: Annotated[bool, Form(
        description="Enrol even if the face matches another subject (recorded).")] = False,
) -> dict[str, Any]:
    """Enrol a subject from one or more images under a consent record."""
    with ctx.images.slot(key.key_id):
        try:
            return ctx.deployment.enrol(
                actor=key.actor,
                subject_id=subject_id,
                images=[read_upload(image) for image in images],
                basis=basis,
                evidence=evidence,
                expires_at=expires_at,
                display_name=display_name,
                keep_images=keep_images,
                allow_duplicate=allow_duplicate,
            )
        except PolicyRefusal as refusal:
            if refusal.rule != "duplicate-face":
                raise
            raise refusal.with_hint("allow_duplicate=true enrols anyway (recorded)") from None


@router.delete("/subjects/{subject_id}", response_model=Erasure,
               response_model_exclude_unset=True)
def erase(
    key: Annotated[ApiKey, Depends(require(Role.ENROLLER, Role.ADMIN))],
    ctx: Annotated[ServiceContext, Depends(get_context)],
    subject_id: str,
    purpose: Annotated[str | None, Query()] = None,
    case: Annotated[str | None, Query()] = None,
) -> dict[str, Any]:
    """Erase a subject: templates, index entries and consent, with the bytes gone from disk."""
    return ctx.deployment.erase(actor=key.actor, subject_id=subject_id, purpose=purpose,
                                case=case)


@router.get("/subjects/{subject_id}/export", response_model=SubjectExport,
            response_model_exclude_unset=True)
def export(
    key: Annotated[ApiKey, Depends(require(Role.ADMIN))],
    ctx: Annotated[ServiceContext, Depends(get_context)],
    subject_id: str,
    purpose: Annotated[str | None, Query(max_length=1024)] = None,
    case: Annotated[str | None, Query(max_length=1024)] = None,
) -> dict[str, Any]:
    """Everything held and logged about one subject, for an access request (GDPR Art. 15);
    the export is itself a logged event."""
    return ctx.deployment.subject_export(actor=key.actor, subject_id=subject_id,
                                         purpose=purpose, case=case)
