"""``faceaudit auditor …``: an independent auditor's key pair and detached report signatures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from faceaudit.audit_signing import generate_auditor_key, sign_report
from faceaudit.cli.grammar import GrammarGroup

auditor_app = typer.Typer(
    help="Auditor keys and signatures: a deployment registers only audits signed by keys its "
    "policy trusts.",
    no_args_is_help=True,
    cls=GrammarGroup,  # errors: one line (faceaudit.cli.grammar)
)


@auditor_app.command()
def keygen(
    out: Annotated[Path, typer.Option("--out", help="Folder for auditor.key and auditor.pub.")],
) -> None:
    """Make an Ed25519 auditor key pair (private key mode 0600); print its key id and the
    line to add to a deployment policy's bias_gate.trusted_auditor_keys."""
    typer.echo(json.dumps(generate_auditor_key(out), indent=2))


@auditor_app.command()
def sign(
    report: Annotated[Path, typer.Argument(help="The report.json to sign (its exact bytes).")],
    key: Annotated[Path, typer.Option("--key", help="The auditor's private key (PEM).")],
) -> None:
    """Write REPORT.sig, a detached Ed25519 signature over the report's exact bytes."""
    typer.echo(str(sign_report(report, key)))
