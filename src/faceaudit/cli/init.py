"""``faceaudit init``: the only command that creates a deployment home."""

from __future__ import annotations

import json

import typer

from faceaudit.cli.options import HomeOption
from faceaudit.home import HomeMissingError, init_home, resolve_home


def init_command(home: HomeOption = None) -> None:
    """Create the deployment home (default: $FACEAUDIT_HOME or ~/.faceaudit); print it as JSON.

    Every other command refuses a home that was not made by ``init`` (exit 2), so a mistyped
    ``--home`` never starts a new deployment with an empty ledger. Running it again is harmless.
    """
    target = resolve_home(home)
    existed = target.is_initialised()
    try:
        made = init_home(target)
    except OSError as exc:
        raise HomeMissingError(f"cannot create the deployment home: {exc.strerror}",
                               which=str(target.root)) from None
    typer.echo(json.dumps({"home": str(made.root), "created": not existed}))
