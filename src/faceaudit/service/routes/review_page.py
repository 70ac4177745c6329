"""The reviewer's pages: the pending review tasks and a **case view** per task — the probe crop
beside each candidate's enrolled reference image (where the policy keeps them), the decision
buttons and the case timeline; blind as the policy says, never another reviewer's decision.

Server-rendered (Jinja2), no external assets, images inline (``data:`` URIs), reviewer role. A
browser signs in once through ``/review/login`` (the key becomes an HttpOnly, SameSite=Strict
cookie for ``/review`` only); the decision form posts back to the same origin (a cross-site
``Origin`` is refused).
"""

from __future__ import annotations

import base64
import functools
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import jinja2
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from faceaudit.deployment.reviews import TaskRef
from faceaudit.service.auth import COOKIE_NAME, page_key, require_page
from faceaudit.service.context import ServiceContext, get_context
from faceaudit.service.keys import ApiKey, Role
from faceaudit.service.problems import AuthenticationError, PermissionDeniedError
from faceaudit.service.schemas.common import redirect

router = APIRouter(prefix="/review", tags=["review pages"])

_TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
PAGE_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'self'; "
            "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
COOKIE_MAX_AGE_S = 8 * 3600
#: where a sign-in may lead: the list, or one task's case view
NEXT_PATTERN = re.compile(r"/review(/tasks/[0-9a-f]{1,64})?")


@functools.cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(_TEMPLATES), autoescape=True,
                              undefined=jinja2.StrictUndefined, trim_blocks=True,
                              lstrip_blocks=True)


def _page(template: str, **context: Any) -> HTMLResponse:
    html = _environment().get_template(template).render(**context)
    return HTMLResponse(html, headers={"Content-Security-Policy": PAGE_CSP,
                                       "Cache-Control": "no-store"})


def _data_uri(image: bytes | None) -> str | None:
    """An image as a ``data:`` URI (its type from its first bytes), or None."""
    if not image:
        return None
    kind = "png" if image.startswith(b"\x89PNG") else "jpeg"
    return f"data:image/{kind};base64,{base64.b64encode(image).decode('ascii')}"


def _same_origin(request: Request) -> None:
    """Refuse a form posted from another site (SameSite=Strict already keeps the cookie
    from it; this names the refusal)."""
    origin = request.headers.get("origin")
    if origin and origin.rstrip("/") != str(request.base_url).rstrip("/"):
        raise PermissionDeniedError("a review decision must be posted from this service's page")


@router.get("/login", response_class=HTMLResponse)
def login_form(next: str = "/review") -> HTMLResponse:  # noqa: A002 - the query's name
    """The reviewer's sign-in form (no key needed to see it)."""
    return _page("review_login.html.j2", next=next if NEXT_PATTERN.fullmatch(next)
                 else "/review")


@router.post("/login", status_code=303, response_class=RedirectResponse,
             responses=redirect("/review, or the task named by next"))
def login(
    request: Request,
    ctx: Annotated[ServiceContext, Depends(get_context)],
    key: Annotated[str, Form(max_length=200)],
    next: Annotated[str, Form(max_length=200)] = "/review",  # noqa: A002 - the form's name
) -> RedirectResponse:
    """Exchange a reviewer key for an HttpOnly cookie and go to the pending list (or the
    task named by ``next``)."""
    found = ctx.keys.authenticate(key.strip())
    if found is None:
        raise AuthenticationError("the API key is unknown or revoked")
    if found.role is not Role.REVIEWER:
        raise PermissionDeniedError(f"role {found.role.value!r} may not open the review pages")
    response = RedirectResponse(next if NEXT_PATTERN.fullmatch(next) else "/review",
                                status_code=303)
    response.set_cookie(COOKIE_NAME, key.strip(), max_age=COOKIE_MAX_AGE_S, httponly=True,
                        samesite="strict", secure=request.url.scheme == "https",
                        path="/review")
    return response


@router.get("", response_class=HTMLResponse, responses=redirect("/review/login"))
def pending_page(
    key: Annotated[ApiKey | None, Depends(page_key(Role.REVIEWER))],
    ctx: Annotated[ServiceContext, Depends(get_context)],
) -> Response:
    """The review tasks this reviewer may still decide, oldest first; without a key or
    sign-in, a redirect (303) to the sign-in form."""
    if key is None:
        return RedirectResponse("/review/login", status_code=303)
    return _page("review_list.html.j2", actor=key.actor,
                 pending=ctx.deployment.pending_reviews(actor=key.actor))


@router.get("/tasks/{task_id}", response_class=HTMLResponse,
            responses=redirect("/review/login?next=/review/tasks/{task_id}"))
def case_page(
    task_id: str,
    key: Annotated[ApiKey | None, Depends(page_key(Role.REVIEWER))],
    ctx: Annotated[ServiceContext, Depends(get_context)],
) -> Response:
    """One task's case view: probe crop, candidates' reference images, decision buttons,
    timeline; without a key or sign-in, a redirect (303) to the sign-in form, which comes
    back here."""
    if key is None:
        target = f"/review/tasks/{task_id}"
        return RedirectResponse("/review/login" + (f"?next={target}" if NEXT_PATTERN.fullmatch(
            target) else ""), status_code=303)
    view = ctx.deployment.review_case(actor=key.actor, ref=TaskRef(task_id=task_id))
    view["probe_crop"] = _data_uri(view["probe_crop"])
    view["references"] = {k: _data_uri(v) for k, v in view["references"].items()}
    return _page("review_case.html.j2", actor=key.actor, task=view)


@router.post("/tasks/{task_id}", status_code=303, response_class=RedirectResponse,
             responses=redirect("/review/tasks/{task_id}"))
def decide_page(
    task_id: str,
    request: Request,
    key: Annotated[ApiKey, Depends(require_page(Role.REVIEWER))],
    ctx: Annotated[ServiceContext, Depends(get_context)],
    decision: Annotated[Literal["confirm", "reject"], Form()],
    note: Annotated[str | None, Form(max_length=2000)] = None,
) -> RedirectResponse:
    """The case view's decision buttons: record the decision, then back to the case view."""
    _same_origin(request)
    ctx.deployment.review(actor=key.actor, ref=TaskRef(task_id=task_id), decision=decision,
                          note=(note or "").strip() or None)
    return RedirectResponse(f"/review/tasks/{task_id}", status_code=303)
