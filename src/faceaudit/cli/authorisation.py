"""``faceaudit authorisation``: the authority's decision on urgent searches (docs/decisions.md)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from faceaudit.base.actor import default_actor
from faceaudit.cli.decision_option import one_decision
from faceaudit.cli.grammar import GrammarGroup
from faceaudit.cli.options import ActorOption, HomeOption, require_home
from faceaudit.cli.output import JsonOption, emit

if TYPE_CHECKING:
    from faceaudit.deployment.operations import Deployment

authorisation_app = typer.Typer(
    help="Urgent searches: record the authority's decision, list held searches, delete late"
         " ones.",
    no_args_is_help=True,
    cls=GrammarGroup,
)


def _deployment(home: Path | None) -> Deployment:
    from faceaudit.deployment.operations import Deployment

    return Deployment(require_home(home))


@authorisation_app.command()
def record(
    result_id: Annotated[str, typer.Argument(help="Result id printed by the urgent identify")],
    decision: Annotated[str | None, typer.Option(
        "--decision", metavar="granted|refused",
        help="granted: the result is released; refused: the search's outputs are deleted "
             "(REST: decision)")] = None,
    granted: Annotated[bool, typer.Option(
        "--granted", help="Same as --decision granted (the old spelling, accepted through 0.2)"
    )] = False,
    refused: Annotated[bool, typer.Option(
        "--refused", help="Same as --decision refused (the old spelling, accepted through 0.2)"
    )] = False,
    reference: Annotated[str | None, typer.Option(
        "--reference", help="Reference of the authorisation (or of the refusal)")] = None,
    authority: Annotated[str | None, typer.Option(
        "--authority", help="Who decided (court, authority)")] = None,
    kind: Annotated[str, typer.Option(
        "--kind", help="warrant, judicial or administrative")] = "judicial",
    expires: Annotated[str | None, typer.Option(
        "--expires-at", "--expires",
        help="When the authorisation expires (ISO-8601; --expires: the old name, accepted "
             "through 0.2)")] = None,
    home: HomeOption = None,
    actor: ActorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Record the authority's decision on a held urgent search: --decision granted or
    --decision refused."""
    from faceaudit.policy.authorisation import authorisation_from

    chosen = one_decision(decision, {"granted": granted, "refused": refused})
    given = authorisation_from(reference, authority, kind, expires)
    assert given is not None  # kind is always given
    emit(_deployment(home).record_authorisation(
        actor=default_actor(actor), result_id=result_id, decision=chosen,
        authorisation=given), as_json)


@authorisation_app.command()
def held(home: HomeOption = None, as_json: JsonOption = False) -> None:
    """List the urgent searches waiting for their authorisation, oldest deadline first."""
    emit({"held": _deployment(home).held_searches()}, as_json)


@authorisation_app.command()
def sweep(home: HomeOption = None, actor: ActorOption = None,
          as_json: JsonOption = False) -> None:
    """Delete the outputs of urgent searches whose deadline has passed (logged)."""
    emit({"deleted": _deployment(home).sweep_holds(default_actor(actor))}, as_json)
