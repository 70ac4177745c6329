"""``faceaudit case``: a case's disclosure bundle for the defence, and its offline check."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from faceaudit.base.actor import default_actor
from faceaudit.base.errors import InputDataError
from faceaudit.cli.grammar import GrammarGroup, error_line
from faceaudit.cli.options import EXIT_TAMPERED, ActorOption, HomeOption, require_home
from faceaudit.cli.output import JsonOption, emit

case_app = typer.Typer(
    help="A case's disclosure bundle: export it for the defence, verify one offline.",
    no_args_is_help=True,
    cls=GrammarGroup,
)


@case_app.command()
def export(
    case: Annotated[str, typer.Argument(help="The case id given to identify (--case)")],
    out: Annotated[Path, typer.Option("--out", help="Folder for case.json and case.html")],
    home: HomeOption = None,
    actor: ActorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Write the case's bundle: every search (with or without candidates), candidate lists,
    reviews, actions, authorisations, the audits and policy in force, each event with its
    inclusion proof. Logged as a case_export event."""
    from faceaudit.deployment.case_page import write_case_page
    from faceaudit.deployment.operations import Deployment

    bundle = Deployment(require_home(home)).case_export(actor=default_actor(actor), case=case)
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / "case.json").write_text(json.dumps(bundle, indent=2, sort_keys=True) + "\n",
                                       encoding="utf-8")
        write_case_page(bundle, out / "case.html")
    except OSError as exc:
        raise InputDataError(f"cannot write the bundle into {out}: {exc.strerror}",
                             which=str(out)) from None
    searches = sum(1 for item in bundle["events"] if item["event"]["action"] == "identify")
    emit({"case": case, "out": str(out), "events": len(bundle["events"]), "searches": searches},
         as_json, lambda d: f"case {d['case']}: {d['events']} events, {d['searches']} "
                            f"searches -> {d['out']}/case.json, case.html")


@case_app.command()
def verify(
    folder: Annotated[Path, typer.Argument(help="A bundle folder (holding case.json)")],
    public_key: Annotated[Path, typer.Option(
        "--public-key", help="The deployment's public key, obtained out of band")],
    as_json: JsonOption = False,
) -> None:
    """Check a bundle offline: event hashes, inclusion proofs and signed heads, candidate
    lists, policy and audit texts, and the omissions it can show. Exit 0 intact, 4 not."""
    from faceaudit.deployment.case_verify import check_case_bundle
    from faceaudit.ledger.signing import load_public_key

    path = folder / "case.json" if folder.is_dir() else folder
    try:
        bundle = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputDataError(f"cannot read a case bundle from {path}: {exc}",
                             which=str(path)) from None
    key = load_public_key(public_key)
    check = check_case_bundle(bundle, key)
    emit({"ok": check.ok, "events": check.events, "searches": check.searches,
          "problems": check.problems}, as_json,
         lambda d: "\n".join([f"case bundle {'intact' if d['ok'] else 'NOT intact'}: "
                              f"{d['events']} events, {d['searches']} searches verified",
                              *d["problems"]]))
    if not check.ok:
        typer.echo(error_line("the case bundle fails verification", str(path)), err=True)
        raise typer.Exit(EXIT_TAMPERED)
