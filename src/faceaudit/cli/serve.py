"""CLI: ``faceaudit serve`` and ``faceaudit keys create|revoke|list`` (registered by cli.py)."""

from __future__ import annotations

import socket
from typing import Annotated

import typer

from faceaudit.base.actor import default_actor
from faceaudit.base.errors import InputDataError
from faceaudit.cli.grammar import GrammarGroup
from faceaudit.cli.options import (
    ActorOption,
    HomeOption,
    require_home,
)
from faceaudit.cli.output import JsonOption, emit
from faceaudit.service.keys import KeyStore

keys_app = typer.Typer(help="Create, revoke and list the service's API keys.",
                       no_args_is_help=True, cls=GrammarGroup)


def serve_command(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
    home: HomeOption = None,
    max_upload_bytes: Annotated[int | None, typer.Option(
        help="Largest request body, bytes [env FACEAUDIT_MAX_UPLOAD_BYTES; 20 MiB].")] = None,
    max_pixels: Annotated[int | None, typer.Option(
        help="Largest uploaded image, pixels [env FACEAUDIT_MAX_PIXELS; 40 Mpx].")] = None,
    rate_per_minute: Annotated[float | None, typer.Option(
        help="Requests per API key per minute [env FACEAUDIT_RATE_PER_MINUTE; 120].")] = None,
    burst: Annotated[int | None, typer.Option(
        help="Requests one key may make at once [env FACEAUDIT_BURST; 30].")] = None,
    image_workers: Annotated[int | None, typer.Option(
        help="Requests doing image work at once [env FACEAUDIT_IMAGE_WORKERS; 2].")] = None,
    image_queue: Annotated[int | None, typer.Option(
        help="Requests waiting for an image worker [env FACEAUDIT_IMAGE_QUEUE; 16].")] = None,
    image_time_limit_s: Annotated[float | None, typer.Option(
        help="Seconds a request's image work may take [env FACEAUDIT_IMAGE_TIME_LIMIT_S; 60]."
    )] = None,
    audit_workers: Annotated[int | None, typer.Option(
        help="Audit jobs run at once [env FACEAUDIT_AUDIT_WORKERS; 1].")] = None,
    header_timeout_s: Annotated[float | None, typer.Option(
        help="Seconds a request's headers may take to arrive [env FACEAUDIT_HEADER_TIMEOUT_S;"
             " 10].")] = None,
    body_timeout_s: Annotated[float | None, typer.Option(
        help="Seconds a request's body may take to arrive [env FACEAUDIT_BODY_TIMEOUT_S; 60]."
    )] = None,
    uploads_per_key: Annotated[int | None, typer.Option(
        help="Uploads one key may have in work at once [env FACEAUDIT_UPLOADS_PER_KEY; 8]."
    )] = None,
) -> None:
    """Run the REST service (OpenAPI at /docs) for one deployment home.

    Limits come from the flags, else the FACEAUDIT_* environment variables, else the defaults
    (docs/api.md); they are validated before anything starts and logged in one line. A port
    that is taken (or a host that is not this machine's) is bad input: exit 2.
    """
    import uvicorn

    from faceaudit.service.app import create_app
    from faceaudit.service.server import server_config
    from faceaudit.service.settings import ServiceSettings

    settings = ServiceSettings.load(
        max_upload_bytes=max_upload_bytes, max_pixels=max_pixels,
        rate_per_minute=rate_per_minute, burst=burst, image_workers=image_workers,
        image_queue=image_queue, image_time_limit_s=image_time_limit_s,
        audit_workers=audit_workers, header_timeout_s=header_timeout_s,
        body_timeout_s=body_timeout_s, uploads_per_key=uploads_per_key,
    )
    app = create_app(require_home(home), settings)
    listener = _listen(host, port)
    typer.echo(f"faceaudit serve: http://{host}:{port} for {app.state.context.home.root};"
               f" limits: {settings.describe()}", err=True)
    try:
        uvicorn.Server(server_config(app, log_level="info")).run(sockets=[listener])
    finally:
        app.state.context.images.shutdown()  # the decode worker processes


def _listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` for the server to accept on; an
    :class:`~faceaudit.base.errors.InputDataError` naming the address when it cannot be bound."""
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
    as_json: JsonOption = False,
) -> None:
    """Create a key and print it once (JSON): only its hash is stored; logged (key_create)."""
    key, token = KeyStore(require_home(home)).create(role, actor, by=default_actor(by))
    emit({**key.to_dict(), "key": token}, as_json)


@keys_app.command("revoke")
def revoke_key(
    key_id: Annotated[str, typer.Argument(help="The key id shown by create or list.")],
    home: HomeOption = None,
    by: ActorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Revoke a key: it stops working at once; logged (key_revoke)."""
    key = KeyStore(require_home(home)).revoke(key_id, by=default_actor(by))
    emit(key.to_dict(), as_json)


@keys_app.command("list")
def list_keys(home: HomeOption = None, as_json: JsonOption = False) -> None:
    """List every key (id, role, actor, created, revoked); never the tokens."""
    emit([key.to_dict() for key in KeyStore(require_home(home)).list()], as_json)
