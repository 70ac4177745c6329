"""``GET /v1/reports/oversight``: who searched for whom, why, and what came of it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from faceaudit.ledger import Ledger
from faceaudit.ledger.oversight import build_oversight
from faceaudit.service.auth import require
from faceaudit.service.context import ServiceContext, get_context
from faceaudit.service.keys import ApiKey, Role
from faceaudit.service.problems import PayloadError

router = APIRouter(prefix="/v1/reports", tags=["reports"])

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@router.get("/oversight")
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
    start = start or EPOCH
    end = end or datetime.now(UTC)
    if _aware(end) <= _aware(start):
        raise PayloadError("the report period is empty: 'to' must be after 'from'")
    return build_oversight(Ledger(ctx.home), start, end)


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo else when.replace(tzinfo=UTC)
