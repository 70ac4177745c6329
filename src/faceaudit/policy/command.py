"""``faceaudit policy …``: show the policy, install a new one, register an audit report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from faceaudit.cli_options import ActorOption, HomeOption, default_actor, require_home
from faceaudit.ledger import Ledger
from faceaudit.ledger.command import user_errors
from faceaudit.policy.enforce import install_policy, register_audit
from faceaudit.policy.model import load_policy

policy_app = typer.Typer(
    help="The deployment policy and its bias gate.",
    no_args_is_help=True,
)


@policy_app.command()
def show(home: HomeOption = None) -> None:
    """Print the policy in force (the home's policy.toml, or the default) as JSON."""
    with user_errors():
        typer.echo(json.dumps(load_policy(require_home(home)).to_dict(), indent=2))


@policy_app.command("set")
def set_policy(
    file: Annotated[Path, typer.Argument(help="A policy TOML file (see examples/policy.toml).")],
    home: HomeOption = None,
    actor: ActorOption = None,
) -> None:
    """Validate FILE, install it as the home's policy and log the change (exit 2 if invalid)."""
    deployment = require_home(home)
    with user_errors():
        policy = install_policy(deployment, Ledger(deployment), file, default_actor(actor))
        typer.echo(json.dumps(policy.to_dict(), indent=2))


@policy_app.command("register-audit")
def register_audit_command(
    report: Annotated[Path, typer.Argument(help="An audit report.json (faceaudit.audit/2).")],
    home: HomeOption = None,
    actor: ActorOption = None,
) -> None:
    """Register an audit report with the deployment and say whether it passes the bias gate."""
    deployment = require_home(home)
    with user_errors():
        result = register_audit(deployment, Ledger(deployment), report, default_actor(actor))
        typer.echo(json.dumps(result, indent=2))
