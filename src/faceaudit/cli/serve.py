"""CLI: ``faceaudit serve`` and ``faceaudit keys create|revoke|list`` (registered by cli.py)."""

from __future__ import annotations

import json
import socket
from typing import Annotated

import typer

from faceaudit.cli.grammar import GrammarGroup
from faceaudit.cli.options import (
    ActorOption,
    HomeOption,
    default_actor,
    require_home,
)
from faceaudit.errors import InputDataError
from faceaudit.service.keys import KeyStore

keys_app = typer.Typer(help="Create, revoke and list the service's API keys.",
                       no_args_is_help=True, cls=GrammarGroup)


def serve_command(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
    home: HomeOption = None,
) -> None:
    """Run the REST service (OpenAPI at /docs) for one deployment home.

    A port that is taken (or a host that is not this machine's) is bad input: exit 2.
    """
    import uvicorn

    from faceaudit.service.app import create_app

    app = create_app(require_home(home))
    listener = _listen(host, port)
    uvicorn.Server(uvicorn.Config(app, log_level="info")).run(sockets=[listener])


def _listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` for the server to accept on; an
    :class:`~faceaudit.errors.InputDataError` naming the address when it cannot be bound."""
    address = f"{host}:{port}"
    try:
        family, kind, proto, _, sockaddr = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM)[0]
        listener = socket.socket(family, kind, proto)
    except OSError as exc:
        raise InputDataError(f"cannot listen: {exc.strerror or exc}", which=address) from None
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(sockaddr)
    except OSError as exc:
        listener.close()
        raise InputDataError(f"cannot listen: {exc.strerror or exc}", which=address) from None
    return listener


@keys_app.command("create")
def create_key(
    role: Annotated[str, typer.Option(help="admin, enroller, operator, reviewer or auditor.")],
    actor: Annotated[str, typer.Option(help="Name written into every ledger event.")],
    home: HomeOption = None,
    by: Annotated[str | None, typer.Option(
        "--by", help="Who creates the key (default: $FACEAUDIT_ACTOR or the OS user).")] = None,
) -> None:
    """Create a key and print it once (JSON): only its hash is stored; logged (key_create)."""
    key, token = KeyStore(require_home(home)).create(role, actor, by=default_actor(by))
    typer.echo(json.dumps({**key.to_dict(), "key": token}))


@keys_app.command("revoke")
def revoke_key(
    key_id: Annotated[str, typer.Argument(help="The key id shown by create or list.")],
    home: HomeOption = None,
    by: ActorOption = None,
) -> None:
    """Revoke a key: it stops working at once; logged (key_revoke)."""
    key = KeyStore(require_home(home)).revoke(key_id, by=default_actor(by))
    typer.echo(json.dumps(key.to_dict()))


@keys_app.command("list")
def list_keys(home: HomeOption = None) -> None:
    """List every key (id, role, actor, created, revoked) as JSON lines; never the tokens."""
    for key in KeyStore(require_home(home)).list():
        typer.echo(json.dumps(key.to_dict()))
