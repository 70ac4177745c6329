"""Audits over HTTP: ``POST /v1/audits`` (start a background audit job), ``GET
/v1/audits/{job_id}[/report.html|/report.json]``, and ``POST /v1/audits/register`` (register a
signed report — the same checks as ``faceaudit policy register-audit``).

Job input: an embeddings Parquet (as written by ``faceaudit embed``) plus an attributes
CSV/Parquet and ``by``, a scores CSV, or a PAD scores CSV. Uploads only: the service never
reads a path named by a client.
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, UploadFile
from fastapi.responses import HTMLResponse, Response

from faceaudit.audit.pad_system import is_pad_system
from faceaudit.ledger import Ledger
from faceaudit.policy import register_audit_bytes
from faceaudit.service.audit_job import AuditJob, run_audit_job
from faceaudit.service.auth import require
from faceaudit.service.context import ServiceContext, get_context
from faceaudit.service.keys import ApiKey, Role
from faceaudit.service.problems import PayloadError
from faceaudit.service.routes.auditor import REPORT_CSP
from faceaudit.service.schemas.audits import AuditJob as AuditJobModel
from faceaudit.service.schemas.audits import AuditReport, Registration
from faceaudit.service.uploads import read_upload

router = APIRouter(prefix="/v1/audits", tags=["audits"])

TABLE_SUFFIXES = {".csv", ".tsv", ".parquet"}


@router.post("", status_code=202, response_model=AuditJobModel, response_model_exclude_unset=True)
def start_audit(
    key: Annotated[ApiKey, Depends(require(Role.AUDITOR))],
    ctx: Annotated[ServiceContext, Depends(get_context)],
    embeddings: Annotated[UploadFile | None, File(description="Embeddings Parquet.")] = None,
    attributes: Annotated[UploadFile | None, File(description="Attributes CSV/Parquet.")] = None,
    scores: Annotated[UploadFile | None, File(description="Or: a scores CSV.")] = None,
    pad_scores: Annotated[UploadFile | None, File(
        description="Or: a PAD scores CSV (score, presentation, group, subject)")] = None,
    lower_is_attack: Annotated[bool, Form(
        description="PAD: a lower score means an attack (default); false: higher")] = True,
    by: Annotated[str, Form(max_length=200, description="e.g. sex or sex,race")] = "",
    fmr: Annotated[str, Form(max_length=200, description="Target FMRs")] = "1e-2,1e-3,1e-4",
    bootstrap: Annotated[int, Form(ge=0, le=5000)] = 1000,
    seed: Annotated[int, Form(ge=0, le=2**32 - 1)] = 0,
    alpha: Annotated[float, Form(ge=0.0, le=1.0)] = 0.5,
    fail_if: Annotated[list[str] | None, Form(description="Gate rules, e.g. fmr_ratio>2")] = None,
    operating_points: Annotated[bool, Form(
        description="Add the worst-group threshold grid (operating_points)")] = False,
    pad_system: Annotated[str | None, Form(
        max_length=200, description="PAD: the PAD system measured, NAME:VERSION (recorded in "
        "provenance; the audit is registered under it)")] = None,
) -> dict[str, Any]:
    """Start an audit in the background; poll ``GET /v1/audits/{job_id}``.

    A report that names its backend is registered with the deployment (bias gate) and logged.
    """
    if sum(x is not None for x in (scores, embeddings, pad_scores)) != 1:
        raise PayloadError("give exactly one input: embeddings (with attributes), scores or "
                           "pad_scores")
    if pad_system is not None and (pad_scores is None or not is_pad_system(pad_system)):
        raise PayloadError("pad_system is a PAD audit's NAME:VERSION (e.g. acme-liveness:4.2), "
                           "with pad_scores")
    if embeddings is not None and attributes is None:
        raise PayloadError("an embeddings audit needs an attributes file")
    groups_by = [b.strip() for b in by.split(",") if b.strip()]
    if embeddings is not None and not groups_by:
        raise PayloadError("choose the grouping attribute(s) with 'by', e.g. sex")
    targets = _floats(fmr)
    job_id, job_dir = ctx.jobs.new_job_dir()
    saved = {
        name: _save(upload, job_dir / "input", name)
        for name, upload in (("embeddings", embeddings), ("attributes", attributes),
                             ("scores", scores), ("pad_scores", pad_scores))
        if upload is not None
    }
    request = AuditJob(
        embeddings=saved.get("embeddings"), attributes=saved.get("attributes"),
        scores=saved.get("scores"), by=groups_by, targets=targets, bootstrap=bootstrap,
        seed=seed, alpha=alpha, fail_if=list(fail_if or []), operating_points=operating_points,
        pad_scores=saved.get("pad_scores"), higher_is_attack=not lower_is_attack,
        pad_system=pad_system,
    )
    return ctx.jobs.submit(job_id, key.actor,
                           partial(run_audit_job, ctx.home, key.actor, request=request))


@router.post("/register", status_code=201, response_model=Registration,
             response_model_exclude_unset=True)
def register(
    key: Annotated[ApiKey, Depends(require(Role.AUDITOR))],
    ctx: Annotated[ServiceContext, Depends(get_context)],
    report: Annotated[UploadFile | None, File(description="report.json (its exact bytes).")] = None,
    signature: Annotated[
        UploadFile | None, File(description="Its detached signature, report.json.sig.")
    ] = None,
) -> dict[str, Any]:
    """Register an audit report with its signature; answer how the gate judges it.

    Refusals (unsigned, untrusted key, altered, future or stale, another model file, no usable
    target) are logged and answered 422 ``audit-refused`` with the ``rule``.
    """
    if report is None:
        raise PayloadError("upload the report as 'report' (and its signature as 'signature')")
    result = register_audit_bytes(
        ctx.home, Ledger(ctx.home), read_upload(report),
        read_upload(signature) if signature is not None else None, key.actor,
        source=report.filename or "report.json",
    )
    result.pop("path", None)
    return result


@router.get("/{job_id}", response_model=AuditJobModel, response_model_exclude_unset=True)
def audit_status(
    key: Annotated[ApiKey, Depends(require(Role.AUDITOR, Role.ADMIN))],
    ctx: Annotated[ServiceContext, Depends(get_context)],
    job_id: str,
) -> dict[str, Any]:
    """The job's status (queued, running, done, failed); when done, its ``report`` JSON."""
    status = ctx.jobs.status(job_id)
    if status["status"] == "done":
        path = ctx.jobs.output_file(job_id, "report.json")
        status["report"] = json.loads(path.read_text(encoding="utf-8"))
    return status


@router.get("/{job_id}/report.html", response_class=HTMLResponse)
def audit_report_html(
    key: Annotated[ApiKey, Depends(require(Role.AUDITOR, Role.ADMIN))],
    ctx: Annotated[ServiceContext, Depends(get_context)],
    job_id: str,
) -> HTMLResponse:
    """The finished job's self-contained ``report.html``."""
    path = ctx.jobs.output_file(job_id, "report.html")
    return HTMLResponse(path.read_text(encoding="utf-8"),
                        headers={"Content-Security-Policy": REPORT_CSP})


@router.get("/{job_id}/report.json", response_class=Response, responses={
    200: {"model": AuditReport, "content": {"application/json": {}},
          "description": "report.json, byte for byte (what an auditor signs)."}})
def audit_report_json(
    key: Annotated[ApiKey, Depends(require(Role.AUDITOR, Role.ADMIN))],
    ctx: Annotated[ServiceContext, Depends(get_context)],
    job_id: str,
) -> Response:
    """The finished job's ``report.json``, byte for byte (what an auditor signs)."""
    path = ctx.jobs.output_file(job_id, "report.json")
    return Response(path.read_bytes(), media_type="application/json")


def _floats(text: str) -> list[float]:
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise PayloadError(f"fmr must be comma-separated numbers, got {text!r}") from None
    if not values or not all(0.0 < v < 1.0 for v in values):
        raise PayloadError("fmr values must lie strictly between 0 and 1")
    return values


def _save(upload: UploadFile, folder: Path, name: str) -> str:
    suffix = Path(upload.filename or "").suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        suffix = ".parquet" if name == "embeddings" else ".csv"
    path = folder / f"{name}{suffix}"
    path.write_bytes(read_upload(upload))
    return str(path.relative_to(folder.parent))
