"""``faceaudit init``: the only command that creates a deployment home."""

from __future__ import annotations

from typing import Annotated

import typer

from faceaudit.base.home import HomeMissingError, resolve_home
from faceaudit.cli.options import HomeOption
from faceaudit.cli.output import JsonOption, emit
from faceaudit.ledger.genesis import init_home

DatabaseUrlOption = Annotated[
    str | None,
    typer.Option("--database-url", help=(
        "Keep this deployment's gallery and ledger in PostgreSQL (postgresql://…; stored in "
        "the home's config). Default: $FACEAUDIT_DATABASE_URL, else the home's own files.")),
]



def init_command(
    home: HomeOption = None, database_url: DatabaseUrlOption = None, as_json: JsonOption = False
) -> None:
    """Create the deployment home (default: $FACEAUDIT_HOME or ~/.faceaudit) and print it.

    Every other command refuses a home that was not made by ``init`` (exit 2), so a mistyped
    ``--home`` never starts a new deployment with an empty ledger. Running it again is harmless.
    With ``--database-url`` (or ``$FACEAUDIT_DATABASE_URL``) the gallery and the ledger live in
    that PostgreSQL database (docs/deploy.md).
    """
    target = resolve_home(home)
    existed = target.is_initialised()
    try:
        made = init_home(target, database_url)
    except OSError as exc:
        raise HomeMissingError(f"cannot create the deployment home: {exc.strerror}",
                               which=str(target.root)) from None
    emit({"home": str(made.root), "created": not existed}, as_json,
         lambda data: f"{'created' if data['created'] else 'already there'}: {data['home']}")
