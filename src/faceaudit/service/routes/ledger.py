"""``GET /v1/ledger`` (events, paged), ``GET /v1/ledger/verify`` (hash chain check) and the
transparency log: the latest signed tree head and inclusion / consistency proofs."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from faceaudit.ledger import Ledger
from faceaudit.service.auth import require
from faceaudit.service.context import ServiceContext, get_context
from faceaudit.service.keys import ApiKey, Role
from faceaudit.service.problems import NotFoundError
from faceaudit.service.record_check import check_record
from faceaudit.service.schemas.common import InclusionProof, TreeHead
from faceaudit.service.schemas.ledger import ConsistencyProof, EventPage, LedgerVerification

router = APIRouter(prefix="/v1/ledger", tags=["ledger"])


@router.get("", response_model=EventPage, response_model_exclude_unset=True)
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


@router.get("/verify", response_model=LedgerVerification, response_model_exclude_unset=True)
def verify(
    key: Annotated[ApiKey, Depends(require(Role.AUDITOR, Role.ADMIN))],
    ctx: Annotated[ServiceContext, Depends(get_context)],
) -> dict[str, Any]:
    """Re-check the whole hash chain, the head witness, the signed checkpoints and tree heads,
    then the stores bound to the ledger — what ``faceaudit ledger verify`` checks; ``summary``
    is the line it prints, ``stores`` the rows that disagree."""
    return check_record(ctx.home).to_dict()


@router.get("/sth", response_model=TreeHead, response_model_exclude_unset=True)
def tree_head(
    key: Annotated[ApiKey, Depends(require(Role.AUDITOR, Role.ADMIN))],
    ctx: Annotated[ServiceContext, Depends(get_context)],
) -> dict[str, Any]:
    """The latest signed tree head ``{tree_size, root_hash, timestamp, key_id, signature}``."""
    head = Ledger(ctx.home).latest_tree_head()
    if head is None:
        raise NotFoundError("the deployment has not signed a tree head yet")
    return head.to_dict()


@router.get("/consistency", response_model=ConsistencyProof,
            response_model_exclude_unset=True)
def consistency(
    key: Annotated[ApiKey, Depends(require(Role.AUDITOR, Role.ADMIN))],
    ctx: Annotated[ServiceContext, Depends(get_context)],
    first: Annotated[int, Query(ge=1, description="The older tree size.")],
    second: Annotated[int | None, Query(
        ge=1, description="The newer tree size (default: the latest signed head's).")] = None,
) -> dict[str, Any]:
    """Proof that the log of ``first`` events is a prefix of the log of ``second`` events."""
    return Ledger(ctx.home).consistency_proof(first, second)


@router.get("/inclusion", response_model=InclusionProof, response_model_exclude_unset=True)
def inclusion(
    key: Annotated[ApiKey, Depends(require(Role.AUDITOR, Role.ADMIN))],
    ctx: Annotated[ServiceContext, Depends(get_context)],
    seq: Annotated[int, Query(ge=1, description="The event's seq (1-based).")],
    tree_size: Annotated[int | None, Query(
        ge=1, description="The tree size (default: the latest signed head's).")] = None,
) -> dict[str, Any]:
    """The audit path proving event ``seq`` is in the tree of ``tree_size`` events."""
    return Ledger(ctx.home).inclusion_proof(seq, tree_size)
