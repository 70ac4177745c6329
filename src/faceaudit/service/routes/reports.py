"""``GET /v1/reports/oversight``: who searched for whom, why, and what came of it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from faceaudit.ledger import Ledger, build_oversight
from faceaudit.service.auth import require
from faceaudit.service.context import ServiceContext, get_context
from faceaudit.service.keys import ApiKey, Role

router = APIRouter(prefix="/v1/reports", tags=["reports"])


@router.get("/oversight")
def oversight(
    key: Annotated[ApiKey, Depends(require(Role.AUDITOR, Role.ADMIN))],
    ctx: Annotated[ServiceContext, Depends(get_context)],
    start: Annotated[datetime | None, Query(alias="from", description="UTC, inclusive")] = None,
    end: Annotated[datetime | None, Query(alias="to", description="UTC, exclusive")] = None,
) -> dict[str, Any]:
    """The oversight report over [from, to): searches per actor, purpose and case, candidate
    counts, review outcomes, erasures, refusals and the audits of the models used."""
    return build_oversight(Ledger(ctx.home), start, end)
