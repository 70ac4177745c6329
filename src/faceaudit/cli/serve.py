"""CLI: ``faceaudit serve`` and ``faceaudit keys create|revoke|list`` (registered by cli.py)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from faceaudit.cli.options import (
    EXIT_BAD_INPUT,
    ActorOption,
    HomeOption,
    default_actor,
    require_home,
)
from faceaudit.errors import FaceAuditError
from faceaudit.service.keys import KeyStore

keys_app = typer.Typer(help="Create, revoke and list the service's API keys.",
                       no_args_is_help=True)


def _fail(error: FaceAuditError) -> typer.Exit:
    typer.echo(f"error: {error}", err=True)
    return typer.Exit(EXIT_BAD_INPUT)


def serve_command(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
    home: HomeOption = None,
) -> None:
    """Run the REST service (OpenAPI at /docs) for one deployment home."""
    import uvicorn

    from faceaudit.service.app import create_app

    uvicorn.run(create_app(require_home(home)), host=host, port=port, log_level="info")


@keys_app.command("create")
def create_key(
    role: Annotated[str, typer.Option(help="admin, enroller, operator, reviewer or auditor.")],
    actor: Annotated[str, typer.Option(help="Name written into every ledger event.")],
    home: HomeOption = None,
    by: Annotated[str | None, typer.Option(
        "--by", help="Who creates the key (default: $FACEAUDIT_ACTOR or the OS user).")] = None,
) -> None:
    """Create a key and print it once (JSON): only its hash is stored; logged (key_create)."""
    try:
        key, token = KeyStore(require_home(home)).create(role, actor, by=default_actor(by))
    except FaceAuditError as error:
        raise _fail(error) from None
    typer.echo(json.dumps({**key.to_dict(), "key": token}))


@keys_app.command("revoke")
def revoke_key(
    key_id: Annotated[str, typer.Argument(help="The key id shown by create or list.")],
    home: HomeOption = None,
    by: ActorOption = None,
) -> None:
    """Revoke a key: it stops working at once; logged (key_revoke)."""
    try:
        key = KeyStore(require_home(home)).revoke(key_id, by=default_actor(by))
    except FaceAuditError as error:
        raise _fail(error) from None
    typer.echo(json.dumps(key.to_dict()))


@keys_app.command("list")
def list_keys(home: HomeOption = None) -> None:
    """List every key (id, role, actor, created, revoked) as JSON lines; never the tokens."""
    for key in KeyStore(require_home(home)).list():
        typer.echo(json.dumps(key.to_dict()))
