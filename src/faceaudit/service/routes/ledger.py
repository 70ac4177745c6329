"""``GET /v1/ledger`` (events, paged) and ``GET /v1/ledger/verify`` (hash chain check)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from faceaudit.ledger import Ledger
from faceaudit.service.auth import require
from faceaudit.service.context import ServiceContext, get_context
from faceaudit.service.keys import ApiKey, Role

router = APIRouter(prefix="/v1/ledger", tags=["ledger"])


@router.get("")
def events(
    key: Annotated[ApiKey, Depends(require(Role.AUDITOR, Role.ADMIN))],
    ctx: Annotated[ServiceContext, Depends(get_context)],
    start: Annotated[datetime | None, Query(alias="from", description="UTC, inclusive")] = None,
    end: Annotated[datetime | None, Query(alias="to", description="UTC, exclusive")] = None,
    after: Annotated[int, Query(ge=0, description="Only events with seq > after.")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Return up to ``limit`` ledger events after sequence ``after`` within [from, to).

    ``next_after`` is the value to pass as ``after`` for the next page (null on the last page).
    """
    page: list[dict] = []
    more = False
    for event in Ledger(ctx.home).events(start, end):
        if event["seq"] <= after:
            continue
        if len(page) == limit:
            more = True
            break
        page.append(event)
    return {"events": page, "next_after": page[-1]["seq"] if more else None}


@router.get("/verify")
def verify(
    key: Annotated[ApiKey, Depends(require(Role.AUDITOR, Role.ADMIN))],
    ctx: Annotated[ServiceContext, Depends(get_context)],
) -> dict[str, Any]:
    """Re-check the whole hash chain, the head witness and the signed checkpoints."""
    return asdict(Ledger(ctx.home).verify())
