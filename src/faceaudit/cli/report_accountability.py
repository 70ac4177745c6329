"""``faceaudit report accountability``: the deployer's pre-deployment accountability report
(Washington RCW 43.386.020) and EU AI Act Art. 27 impact assessment draft, as HTML and
Markdown, filled from what the deployment knows (docs/accountability.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from faceaudit.base.errors import InputDataError
from faceaudit.cli.options import HomeOption, require_home
from faceaudit.cli.output import JsonOption, emit


def accountability(
    out: Annotated[Path, typer.Option(
        "--out", help="Folder for accountability.html and accountability.md.")] = Path("."),
    backend: Annotated[str | None, typer.Option(
        help="Backend id the report is about (default: the deployed backend).")] = None,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Write the accountability report / impact assessment draft: engine, model file hashes,
    registered audits' per-group error rates with intervals, the policy, data and retention —
    each section citing its statute's item; what only the deployer can write is left as marked
    headings."""
    from faceaudit.deployment.accountability import accountability_facts
    from faceaudit.deployment.accountability_report import write_accountability

    deployment = require_home(home)
    if backend is None:
        from faceaudit.engine import api

        backend = api.get_embedder().backend_id
    facts = accountability_facts(deployment, backend)
    try:
        written = [str(p) for p in write_accountability(facts, out)]
    except OSError as exc:
        raise InputDataError(f"cannot write the report into {out}: {exc.strerror}",
                             which=str(out)) from None
    emit({"files": written, "backend_id": backend, "audits": len(facts["audits"]),
          "gate": facts["gate"]["sentence"]}, as_json, lambda d: "\n".join(d["files"]))
