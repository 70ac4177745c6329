"""The auditor's page: whether identification is allowed now (one sentence), the governing
audit per backend, ledger integrity, and the oversight report.

Server-rendered (Jinja2), no external assets, auditor role. A browser signs in once through
``/auditor/login`` (the key is exchanged for an HttpOnly, SameSite=Strict cookie that only these
GET pages accept); API clients may send the key as a header instead.
"""

from __future__ import annotations

import functools
import html
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import jinja2
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from faceaudit.audit.html import render_html
from faceaudit.base.errors import FaceAuditError
from faceaudit.ledger import Ledger
from faceaudit.ledger.oversight import build_oversight
from faceaudit.ledger.report_period import report_period
from faceaudit.policy import list_audits, load_policy, policy_status, registered_audits
from faceaudit.policy.audits import AuditEvent, AuditRecordError, list_pad_audits, load_registered
from faceaudit.policy.gate import judge_registered
from faceaudit.policy.identification import (
    IDENTIFICATION_MODE,
    current_gallery_size,
    judge_identification,
)
from faceaudit.policy.model import Policy
from faceaudit.policy.worst_group import judge_for_policy
from faceaudit.service.auth import COOKIE_NAME, page_key
from faceaudit.service.context import ServiceContext, get_context
from faceaudit.service.erasure_text import erasure_sentence
from faceaudit.service.keys import ApiKey, Role
from faceaudit.service.problems import AuthenticationError, NotFoundError, PermissionDeniedError
from faceaudit.service.record_check import check_record
from faceaudit.service.schemas.common import redirect

router = APIRouter(prefix="/auditor", tags=["auditor"])

_TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
PAGE_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'self'; "
            "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
REPORT_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
              "frame-ancestors 'none'")
COOKIE_MAX_AGE_S = 8 * 3600


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


@router.post("/login", status_code=303, response_class=RedirectResponse,
             responses=redirect("/auditor"))
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


@router.post("/logout", status_code=303, response_class=RedirectResponse,
             responses=redirect("/auditor/login"))
def logout() -> RedirectResponse:
    """Forget the sign-in cookie."""
    response = RedirectResponse("/auditor/login", status_code=303)
    response.delete_cookie(COOKIE_NAME, path="/auditor")
    return response


@router.get("", response_class=HTMLResponse, responses=redirect("/auditor/login"))
def auditor_page(
    key: Annotated[ApiKey | None, Depends(page_key(Role.AUDITOR))],
    ctx: Annotated[ServiceContext, Depends(get_context)],
) -> Response:
    """Whether identification is allowed now, the governing audit per backend, ledger
    verification status, and the oversight report; without a key or sign-in, a redirect (303)
    to the sign-in form."""
    if key is None:
        return RedirectResponse("/auditor/login", status_code=303)
    ledger = Ledger(ctx.home)
    policy = load_policy(ctx.home)
    now = datetime.now(UTC)
    record = check_record(ctx.home)  # what `faceaudit ledger verify` checks and says
    oversight = build_oversight(ledger, *report_period(None, now, now))
    for row in oversight["erasures"]:
        row["sentence"] = erasure_sentence(row["action"], row["summary"])
    return _page(
        "auditor.html.j2",
        actor=key.actor,
        home=str(ctx.home.root),
        now=now.isoformat(timespec="seconds"),
        status=policy_status(ctx.home, ctx.deployment.backend_id, policy=policy, now=now),
        verification=record.report,
        record=record,
        policy=policy,
        audits=[_audit_view(ctx, event, policy, now) for event in _governing(ledger)],
        oversight=oversight,
    )


@router.get("/audits/{audit_id}/report.html", response_class=HTMLResponse,
            responses=redirect("/auditor/login"))
def registered_report(
    key: Annotated[ApiKey | None, Depends(page_key(Role.AUDITOR))],
    ctx: Annotated[ServiceContext, Depends(get_context)],
    audit_id: str,
) -> Response:
    """A registered audit's full report, rendered from its ``report.json``; without a key or
    sign-in, a redirect (303) to the sign-in form."""
    if key is None:
        return RedirectResponse("/auditor/login", status_code=303)
    for record in [*list_audits(ctx.home), *list_pad_audits(ctx.home)]:
        if record.audit_id == audit_id:
            return HTMLResponse(_render(record.report),
                                headers={"Content-Security-Policy": REPORT_CSP})
    raise NotFoundError(f"no registered audit {audit_id!r}")


def _render(report: dict[str, Any]) -> str:
    """The report's HTML; a registered report the renderer cannot draw is shown as JSON."""
    try:
        return render_html(report)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError):
        text = html.escape(json.dumps(report, indent=1))
        return ("<!doctype html><meta charset=utf-8><title>faceaudit report</title>"
                "<p>This registered report cannot be drawn; its JSON follows.</p>"
                f"<pre>{text}</pre>")


def _governing(ledger: Ledger) -> list[AuditEvent]:
    """The governing (newest) registered audit of each backend and mode."""
    latest: dict[tuple[str, str], AuditEvent] = {}
    try:
        events = registered_audits(ledger)
    except FaceAuditError:
        return []
    for event in events:  # newest evidence first
        latest.setdefault((event.backend_id, event.mode), event)
    return [latest[k] for k in sorted(latest)]


def _audit_view(ctx: ServiceContext, event: AuditEvent, policy: Policy,
                now: datetime) -> dict[str, Any]:
    """One row: the governing audit, its recomputed ratios and the gate's verdict now."""
    gate = judge_registered(policy, ctx.home, event, now)
    fmr_ratio = fnmr_ratio = None
    judged: dict[str, str] = {}
    groups = ""
    try:
        report = load_registered(ctx.home, event).report
    except (AuditRecordError, FaceAuditError):
        report = None
    if report is not None and event.mode == IDENTIFICATION_MODE:
        size = current_gallery_size(ctx.home, event.backend_id)
        verdict = judge_identification(policy, report, size)
        fmr_ratio, fnmr_ratio = verdict.fpir_ratio, verdict.fnir_ratio
        groups = ", ".join(str(g) for g in report.get("groups") or [])
        judged = {j.name: j.short() for j in verdict.judged}
    elif report is not None:
        verdict = judge_for_policy(policy, report)
        fmr_ratio, fnmr_ratio = verdict.fmr_ratio, verdict.fnmr_ratio
        groups = ", ".join(str(g) for g in report.get("groups") or [])
        judged = {j.name: j.short() for j in verdict.judged}
    # value, interval and verdict of each recomputed ratio where it was judged
    fmr_text = judged.get("fpir_ratio" if event.mode == IDENTIFICATION_MODE else "fmr_ratio")
    fnmr_text = judged.get("fnir_ratio" if event.mode == IDENTIFICATION_MODE else "fnmr_ratio")
    return {
        "audit_id": event.audit_id,
        "backend_id": event.backend_id,
        "mode": event.mode,
        "created_at": event.created_at.isoformat(timespec="seconds"),
        "registered": f"{event.registered_at.isoformat(timespec='seconds')} by {event.actor}, "
                      f"event {event.seq}",
        "signed_by": event.key_id or "unsigned",
        "groups": groups,
        "target_fmr": policy.fmr_target,
        "fmr_ratio": ("FPIR " if event.mode == IDENTIFICATION_MODE else "")
        + (fmr_text or _number(fmr_ratio)),
        "fnmr_ratio": ("FNIR " if event.mode == IDENTIFICATION_MODE else "")
        + (fnmr_text or _number(fnmr_ratio)),
        "passes": gate.passed,
        "gate_detail": "passes the policy's bias gate" if gate.passed else
                       f"{gate.rule}: {gate.detail}",
    }


def _number(value: float | None) -> str:
    if value is None:
        return "—"
    return "∞" if value == float("inf") else f"{value:.3g}"
