"""``faceaudit auditor …``: an independent auditor's key pair and detached report signatures."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from faceaudit.audit.signing import generate_auditor_key, sign_report
from faceaudit.cli.grammar import GrammarGroup
from faceaudit.cli.output import JsonOption, emit

auditor_app = typer.Typer(
    help="Auditor keys and signatures: a deployment registers only audits signed by keys its "
    "policy trusts.",
    no_args_is_help=True,
    cls=GrammarGroup,  # errors: one line (faceaudit.cli.grammar)
)


@auditor_app.command()
def keygen(
    out: Annotated[Path, typer.Option("--out", help="Folder for auditor.key and auditor.pub.")],
    as_json: JsonOption = False,
) -> None:
    """Make an Ed25519 auditor key pair (private key mode 0600); print its key id and the
    line to add to a deployment policy's bias_gate.trusted_auditor_keys."""
    emit(generate_auditor_key(out), as_json)


@auditor_app.command()
def sign(
    report: Annotated[Path, typer.Argument(help="The report.json to sign (its exact bytes).")],
    key: Annotated[Path, typer.Option("--key", help="The auditor's private key (PEM).")],
    as_json: JsonOption = False,
) -> None:
    """Write REPORT.sig, a detached Ed25519 signature over the report's exact bytes."""
    emit({"signature": str(sign_report(report, key))}, as_json, lambda data: data["signature"])
