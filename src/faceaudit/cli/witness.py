"""``faceaudit witness``: an overseer checks the deployment's signed tree heads."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from faceaudit.base.home import Home
from faceaudit.cli.grammar import error_line
from faceaudit.cli.options import EXIT_TAMPERED
from faceaudit.cli.output import JsonOption, emit
from faceaudit.ledger.errors import LedgerError
from faceaudit.ledger.witness import HomeSource, LogSource, UrlSource, WitnessState, check

API_KEY_ENV = "FACEAUDIT_API_KEY"


def witness_command(
    state: Annotated[Path, typer.Option("--state", help="The witness's own folder (heads seen, "
                                        "pinned key); never inside the deployment home.")],
    public_key: Annotated[
        Path | None,
        typer.Option("--public-key", help="The deployment's public key, obtained out of band; "
                     "required at first contact, then compared with the pinned one."),
    ] = None,
    home: Annotated[
        Path | None, typer.Option("--home", help="Read the deployment from this home folder.")
    ] = None,
    url: Annotated[
        str | None, typer.Option("--url", help="Read the deployment from its service URL.")
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option("--api-key", envvar=API_KEY_ENV, help="An auditor key (with --url)."),
    ] = None,
    peer: Annotated[
        list[Path] | None,
        typer.Option("--peer", help="Another witness's state folder to cross-check (repeat)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Fetch the deployment's latest signed tree head and a consistency proof from the last head
    this witness accepted; verify both with the pinned public key only. Prints a summary;
    exit 0 when the log only grew, 4 on a fork, rollback, missing prefix, bad signature or
    replaced public key, 2 on bad input."""
    if (home is None) == (url is None):
        raise typer.BadParameter("give exactly one of --home and --url")
    source: LogSource
    home_key = None
    if home is not None:
        deployment = Home(home.expanduser().resolve())
        if state.expanduser().resolve().is_relative_to(deployment.root):
            raise LedgerError("keep the witness state outside the deployment home",
                              which=str(state))
        source = HomeSource(deployment)
        home_key = deployment.public_key_path
    else:
        assert url is not None
        source = UrlSource(url, api_key or os.environ.get(API_KEY_ENV))
    result = check(WitnessState(state), source, public_key, peer or [], home_key)
    emit(result.to_dict(), as_json)
    if not result.ok:
        typer.echo(error_line(f"witness: {result.status}: {result.reason}", url or str(home)),
                   err=True)
        raise typer.Exit(EXIT_TAMPERED)
