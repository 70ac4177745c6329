"""``POST /v1/cases/{case}/export``: a case's disclosure bundle for the defence (issue 23).

The same operation as ``faceaudit case export`` — :meth:`Deployment.case_export` builds the
bundle and logs the ``case_export`` event — answered as the bundle's JSON (``case.json``'s
content, checked offline by ``faceaudit case verify``) or, with ``Accept: text/html``, as its
printable page (``case.html``). Each call is one logged export.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict

from faceaudit.deployment.case_page import render_case_page
from faceaudit.service.auth import require
from faceaudit.service.context import ServiceContext, get_context
from faceaudit.service.keys import ApiKey, Role

router = APIRouter(prefix="/v1/cases", tags=["cases"])


class CaseSystem(BaseModel):
    """The system that ran the case's searches: name, version, model-file SHA-256 by backend."""

    name: str
    version: str
    backends: dict[str, str | None]


class CaseEntry(BaseModel):
    """One ledger event of the bundle, exactly as recorded, and its receipt (inclusion proof
    under a signed tree head)."""

    model_config = ConfigDict(extra="forbid")

    event: dict[str, Any]
    receipt: dict[str, Any] | None


class CaseBundle(BaseModel):
    """A case's disclosure bundle (format ``faceaudit-case/1``, docs/decisions.md); any
    further member the bundle carries passes through unchanged."""

    model_config = ConfigDict(extra="allow")

    format: str
    case: str
    exported_at: str
    system: CaseSystem
    public_key_pem: str | None
    events: list[CaseEntry]
    results: dict[str, dict[str, Any]]
    policies: dict[str, str]
    audits: dict[str, str]


def wants_html(accept: str | None) -> bool:
    """Whether an ``Accept`` header prefers ``text/html`` to JSON (by its q-values; ties and
    an absent header go to JSON)."""
    quality = {"html": 0.0, "json": 0.0}
    for part in (accept or "").split(","):
        media, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if media == "text/html":
            quality["html"] = max(quality["html"], q)
        elif media in ("application/json", "application/*", "*/*"):
            quality["json"] = max(quality["json"], q)
    return quality["html"] > quality["json"]


@router.post("/{case:path}/export", response_model=CaseBundle,
             responses={200: {"content": {"text/html": {"schema": {"type": "string"}}},
                              "description": "The bundle (JSON), or its printable page "
                                             "with Accept: text/html"}})
def export(
    key: Annotated[ApiKey, Depends(require(Role.AUDITOR, Role.ADMIN))],
    ctx: Annotated[ServiceContext, Depends(get_context)],
    request: Request,
    case: str,
) -> Any:
    """Export ``case``'s disclosure bundle: every search of the case (those without
    candidates too), candidate lists, reviews, actions, authorisations, the audits and policy
    in force, each event with its inclusion proof; logged as a ``case_export`` event by the
    key's actor. 404 ``unknown-case`` when no event names the case."""
    bundle = ctx.deployment.case_export(actor=key.actor, case=case)
    if wants_html(request.headers.get("accept")):
        return HTMLResponse(render_case_page(bundle))
    return bundle
