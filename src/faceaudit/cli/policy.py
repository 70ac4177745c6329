"""``faceaudit policy …``: show the policy, install a new one, register an audit report, and
say whether identification is allowed now."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from faceaudit.base.actor import default_actor
from faceaudit.cli.grammar import GrammarGroup, error_line
from faceaudit.cli.options import (
    EXIT_GATE,
    EXIT_REFUSED,
    ActorOption,
    HomeOption,
    require_home,
)
from faceaudit.cli.output import JsonOption, emit
from faceaudit.ledger import Ledger
from faceaudit.policy.enforce import install_policy
from faceaudit.policy.model import load_policy
from faceaudit.policy.registration import register_audit
from faceaudit.policy.status import policy_status

policy_app = typer.Typer(
    help="The deployment policy and its bias gate.",
    no_args_is_help=True,
    cls=GrammarGroup,  # errors: one line (faceaudit.cli.grammar)
)


@policy_app.command()
def show(home: HomeOption = None, as_json: JsonOption = False) -> None:
    """Print the policy in force (the home's policy.toml, or the default)."""
    emit(load_policy(require_home(home)).to_dict(), as_json)


@policy_app.command("set")
def set_policy(
    file: Annotated[Path, typer.Argument(help="A policy TOML file (see examples/policy.toml).")],
    home: HomeOption = None,
    actor: ActorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Validate FILE, install it as the home's policy and log the change (exit 2 if invalid)."""
    deployment = require_home(home)
    policy = install_policy(deployment, Ledger(deployment), file, default_actor(actor))
    emit(policy.to_dict(), as_json)


@policy_app.command("register-audit")
def register_audit_command(
    report: Annotated[Path, typer.Argument(help="An audit report.json (faceaudit.audit/2 or /1).")],
    signature: Annotated[
        Path | None,
        typer.Option(help="Its detached signature (default: REPORT.sig when present)."),
    ] = None,
    home: HomeOption = None,
    actor: ActorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Register a signed audit report; print how the bias gate judges it (recomputed).

    Exit 3 when the report is registered but fails the policy's bias gate (identification stays
    refused); exit 5 (logged as refused) for a report that may not count: unsigned, untrusted
    key, altered after signing, dated in the future or stale, about another model file, or with
    no usable target; exit 2 for a file that is not an audit report.
    """
    deployment = require_home(home)
    result = register_audit(deployment, Ledger(deployment), report, default_actor(actor),
                            signature=signature)
    emit(result, as_json)
    gate = result["gate"]
    if not gate["passed"]:
        typer.echo(error_line(
            f"registered, but the audit fails the policy's bias gate: {gate['rule']}", str(report)
        ), err=True)
        raise typer.Exit(EXIT_GATE)


@policy_app.command()
def status(
    home: HomeOption = None,
    backend: Annotated[
        str | None,
        typer.Option(help="Backend id to ask about (default: the deployed backend)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Say in one sentence whether identification is allowed now, by which audit, or why not;
    where the policy names a PAD system, which PAD audit verify runs under (or why it is
    refused); and which kind of key signs the ledger (a file key is not insider-proof).

    Exit 0 when allowed, 5 when refused.
    """
    deployment = require_home(home)
    if backend is None:
        from faceaudit.engine import api

        backend = api.get_embedder().backend_id
    result = policy_status(deployment, backend)
    emit(result, as_json, lambda data: (
        f"{data['sentence']}\n"
        + (f"{data['pad']['sentence']}\n" if data.get("pad") else "")
        + f"Ledger heads are signed by {data['signer']['description']}."))
    if not result["allowed"]:
        raise typer.Exit(EXIT_REFUSED)


@policy_app.command("trust-key")
def trust_key(
    key: Annotated[str, typer.Argument(
        metavar="PUB", help="auditor.pub from `faceaudit auditor keygen`, or 'ed25519:<base64>'.")],
    home: HomeOption = None,
    actor: ActorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Trust an auditor's key for audit registration (a logged policy change)."""
    from faceaudit.policy.trust import change_trusted_key

    deployment = require_home(home)
    policy = change_trusted_key(deployment, Ledger(deployment), key, default_actor(actor),
                                trust=True)
    emit(policy.to_dict(), as_json)


@policy_app.command("untrust-key")
def untrust_key(
    key: Annotated[str, typer.Argument(
        metavar="PUB", help="auditor.pub, or the 'ed25519:<base64>' entry to remove.")],
    home: HomeOption = None,
    actor: ActorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Stop trusting an auditor's key (a logged policy change; registered audits stay)."""
    from faceaudit.policy.trust import change_trusted_key

    deployment = require_home(home)
    policy = change_trusted_key(deployment, Ledger(deployment), key, default_actor(actor),
                                trust=False)
    emit(policy.to_dict(), as_json)


@policy_app.command("init")
def init_policy(
    file: Annotated[Path, typer.Argument(help="Where to write it (refused if it exists).")] = Path(
        "policy.toml"),
    waive: Annotated[str | None, typer.Option(
        "--waive", metavar="REASON",
        help="Waive the bias gate, saying why (an evaluation home without an audit yet); "
             "policy status says so")] = None,
    as_json: JsonOption = False,
) -> None:
    """Write a working starter policy to FILE (default policy.toml) to review, then install
    with `faceaudit policy set FILE`."""
    from faceaudit.policy.starter import write_starter_policy

    path = write_starter_policy(file, waive)
    emit({"written": str(path), "next": f"faceaudit policy set {path}"}, as_json,
         lambda d: f"wrote {d['written']}: review it, then `{d['next']}`")
