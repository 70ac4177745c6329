"""``GET /v1/reports/transparency``: the public statistics a statute asks for, per period,
small cells suppressed (docs/reports.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from faceaudit.deployment.transparency import build_transparency, parse_bound
from faceaudit.service.auth import require
from faceaudit.service.context import ServiceContext, get_context
from faceaudit.service.keys import ApiKey, Role
from faceaudit.service.schemas.reports import TransparencyReport

router = APIRouter(prefix="/v1/reports", tags=["reports"])


@router.get("/transparency", response_model=TransparencyReport,
            response_model_exclude_unset=True)
def transparency(
    key: Annotated[ApiKey, Depends(require(Role.AUDITOR, Role.ADMIN))],
    ctx: Annotated[ServiceContext, Depends(get_context)],
    start: Annotated[str | None, Query(alias="from", description="First day (YYYY-MM-DD, "
                                                                 "UTC) or an ISO-8601 time, "
                                                                 "inclusive; default 1 January "
                                                                 "of this year")] = None,
    end: Annotated[str | None, Query(alias="to", description="Last day, included "
                                                             "(YYYY-MM-DD), or an ISO-8601 "
                                                             "time; default now")] = None,
    template: Annotated[str, Query(description="full, maryland-2-510, utah-77-23e-106, "
                                               "montana-44-15-111 or washington-43-386")]
    = "full",
    period: Annotated[str, Query(description="month, quarter or year")] = "month",
) -> dict[str, Any]:
    """The transparency report over [from, to] by period, laid out as ``template``: the same
    JSON as ``faceaudit report transparency --json`` (counts below the policy's
    ``transparency.k`` read ``< k`` or ``withheld``). A bad date, an empty period, an unknown
    period or template: 422 problem+json."""
    now = datetime.now(UTC)
    first = parse_bound(start, "from") if start else datetime(now.year, 1, 1, tzinfo=UTC)
    last = parse_bound(end, "to", end=True) if end else now
    return build_transparency(ctx.home, first, last, unit=period, template=template)
