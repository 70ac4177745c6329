"""``GET /v1/subjects``: the enrolled subjects, a page at a time (what ``gallery list`` shows)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from faceaudit.service.auth import require
from faceaudit.service.context import ServiceContext, get_context
from faceaudit.service.keys import ApiKey, Role
from faceaudit.service.schemas.subjects import SubjectPage

router = APIRouter(prefix="/v1", tags=["subjects"])

MAX_PAGE = 500


def page_of(subjects: list[dict[str, Any]], after: str | None, limit: int) -> dict[str, Any]:
    """The ``limit`` subjects whose id sorts after ``after`` (ids are unique and sorted).

    ``next_after`` is the cursor for the following page, ``None`` on the last one. A cursor
    stays valid when subjects are enrolled or erased between pages: no subject is skipped or
    repeated because another one came or went.
    """
    ordered = sorted(subjects, key=lambda s: s["subject_id"])
    rest = [s for s in ordered if after is None or s["subject_id"] > after]
    page = rest[:limit]
    more = len(rest) > limit
    return {
        "subjects": page,
        "total": len(ordered),
        "next_after": page[-1]["subject_id"] if more and page else None,
    }


@router.get("/subjects", response_model=SubjectPage, response_model_exclude_unset=True)
def list_subjects(
    _key: Annotated[ApiKey, Depends(require(Role.ADMIN, Role.ENROLLER))],
    ctx: Annotated[ServiceContext, Depends(get_context)],
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Subjects per page.")] = 100,
    after: Annotated[
        str | None, Query(description="Cursor: the `next_after` of the previous page.")
    ] = None,
) -> dict[str, Any]:
    """Enrolled subjects with consent records and template counts — never templates or images."""
    return page_of(ctx.deployment.list_subjects(), after, limit)
