"""The auditor's page: latest audit per backend, ledger integrity, and the oversight report.

Server-rendered (Jinja2), no external assets, auditor role. A browser signs in once through
``/auditor/login`` (the key is exchanged for an HttpOnly, SameSite=Strict cookie that only these
GET pages accept); API clients may send the key as a header instead.
"""

from __future__ import annotations

import functools
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import jinja2
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from faceaudit.audit.html import render_html
from faceaudit.ledger import Ledger
from faceaudit.ledger.oversight import build_oversight
from faceaudit.policy import AuditRecord, list_audits, load_policy
from faceaudit.policy.gate import audit_problem
from faceaudit.service.auth import COOKIE_NAME, require_page
from faceaudit.service.context import ServiceContext, get_context
from faceaudit.service.keys import ApiKey, Role
from faceaudit.service.problems import AuthenticationError, NotFoundError, PermissionDeniedError

router = APIRouter(prefix="/auditor", tags=["auditor"])

_TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
PAGE_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'self'; "
            "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
REPORT_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
              "frame-ancestors 'none'")
COOKIE_MAX_AGE_S = 8 * 3600
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@functools.cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(_TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _page(template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    html = _environment().get_template(template).render(**context)
    return HTMLResponse(html, status_code=status_code,
                        headers={"Content-Security-Policy": PAGE_CSP, "Cache-Control": "no-store"})


@router.get("/login", response_class=HTMLResponse)
def login_form() -> HTMLResponse:
    """The sign-in form (no key needed to see it)."""
    return _page("login.html.j2")


@router.get("/login.js", include_in_schema=False)
def login_script() -> Response:
    """The form's one script: sign in from a ``#key=…`` link (fragments never reach servers)."""
    return Response((_TEMPLATES / "login.js").read_bytes(), media_type="text/javascript",
                    headers={"Cache-Control": "no-cache"})


@router.post("/login", status_code=303, response_class=RedirectResponse)
def login(
    request: Request,
    ctx: Annotated[ServiceContext, Depends(get_context)],
    key: Annotated[str, Form(max_length=200)],
) -> RedirectResponse:
    """Exchange an auditor key for an HttpOnly cookie and go to the page."""
    found = ctx.keys.authenticate(key.strip())
    if found is None:
        raise AuthenticationError("the API key is unknown or revoked")
    if found.role is not Role.AUDITOR:
        raise PermissionDeniedError(f"role {found.role.value!r} may not open the auditor page")
    response = RedirectResponse("/auditor", status_code=303)
    response.set_cookie(COOKIE_NAME, key.strip(), max_age=COOKIE_MAX_AGE_S, httponly=True,
                        samesite="strict", secure=request.url.scheme == "https",
                        path="/auditor")
    return response


@router.post("/logout", status_code=303, response_class=RedirectResponse)
def logout() -> RedirectResponse:
    """Forget the sign-in cookie."""
    response = RedirectResponse("/auditor/login", status_code=303)
    response.delete_cookie(COOKIE_NAME, path="/auditor")
    return response


@router.get("", response_class=HTMLResponse)
def auditor_page(
    key: Annotated[ApiKey, Depends(require_page(Role.AUDITOR))],
    ctx: Annotated[ServiceContext, Depends(get_context)],
) -> HTMLResponse:
    """Latest audit per backend, ledger verification status, and the oversight report."""
    ledger = Ledger(ctx.home)
    policy = load_policy(ctx.home)
    return _page(
        "auditor.html.j2",
        actor=key.actor,
        home=str(ctx.home.root),
        now=datetime.now(UTC).isoformat(timespec="seconds"),
        verification=ledger.verify(),
        policy=policy,
        audits=[_audit_view(record, policy) for record in _latest_per_backend(ctx)],
        oversight=build_oversight(ledger, EPOCH, datetime.now(UTC)),
    )


@router.get("/audits/{audit_id}/report.html", response_class=HTMLResponse)
def registered_report(
    key: Annotated[ApiKey, Depends(require_page(Role.AUDITOR))],
    ctx: Annotated[ServiceContext, Depends(get_context)],
    audit_id: str,
) -> HTMLResponse:
    """A registered audit's full report, rendered from its ``report.json``."""
    for record in list_audits(ctx.home):
        if record.audit_id == audit_id:
            return HTMLResponse(render_html(record.report),
                                headers={"Content-Security-Policy": REPORT_CSP})
    raise NotFoundError(f"no registered audit {audit_id!r}")


def _latest_per_backend(ctx: ServiceContext) -> list[AuditRecord]:
    latest: dict[str, AuditRecord] = {}
    for record in list_audits(ctx.home):  # newest first
        latest.setdefault(record.backend_id, record)
    return sorted(latest.values(), key=lambda r: r.backend_id)


def _audit_view(record: AuditRecord, policy: Any) -> dict[str, Any]:
    problem = audit_problem(policy, record)
    report = record.report
    target = next((t for t in report["targets"]
                   if _same(t.get("target_fmr"), policy.fmr_target)), None)
    target = target or next((t for t in report["targets"]
                             if _same(t.get("target_fmr"), report.get("primary_target"))),
                            report["targets"][0])
    summaries = target.get("summaries", {})
    return {
        "audit_id": record.audit_id,
        "backend_id": record.backend_id,
        "created_at": record.created_at.isoformat(timespec="seconds"),
        "groups": ", ".join(str(g) for g in report.get("groups", [])),
        "target_fmr": target.get("target_fmr"),
        "fmr_ratio": _estimate(summaries.get("fmr_ratio")),
        "fnmr_ratio": _estimate(summaries.get("fnmr_ratio")),
        "passes": problem is None,
        "gate_detail": "passes the policy's bias gate" if problem is None else problem[1],
    }


def _same(a: Any, b: Any) -> bool:
    return isinstance(a, int | float) and isinstance(b, int | float) and math.isclose(a, b)


def _estimate(estimate: Any) -> str:
    if not isinstance(estimate, dict) or estimate.get("value") is None:
        return "—"
    text = f"{estimate['value']:.3g}"
    if estimate.get("low") is not None and estimate.get("high") is not None:
        text += f" [{estimate['low']:.3g}, {estimate['high']:.3g}]"
    return text
