"""``GET /v1/reports/oversight``: who searched for whom, why, and what came of it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from faceaudit.ledger import Ledger
from faceaudit.ledger.oversight import build_oversight
from faceaudit.ledger.report_period import report_period
from faceaudit.service.auth import require
from faceaudit.service.context import ServiceContext, get_context
from faceaudit.service.keys import ApiKey, Role
from faceaudit.service.problems import PayloadError
from faceaudit.service.schemas.reports import OversightReport

router = APIRouter(prefix="/v1/reports", tags=["reports"])

@router.get("/oversight", response_model=OversightReport, response_model_exclude_unset=True)
def oversight(
    key: Annotated[ApiKey, Depends(require(Role.AUDITOR, Role.ADMIN))],
    ctx: Annotated[ServiceContext, Depends(get_context)],
    start: Annotated[datetime | None, Query(alias="from", description="UTC, inclusive")] = None,
    end: Annotated[datetime | None, Query(alias="to", description="UTC, exclusive")] = None,
) -> dict[str, Any]:
    """The oversight report over [from, to) (default: every event up to now).

    Searches per actor, purpose and case, candidate counts, review outcomes (confirmed /
    rejected / pending), erasures, refusals, and the audits of the models used.
    """
    try:
        period = report_period(start, end)
    except ValueError as exc:
        raise PayloadError(str(exc)) from None
    return build_oversight(Ledger(ctx.home), *period)
