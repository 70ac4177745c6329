"""``faceaudit ledger …``: verify, export, oversight report, signed tree heads, proofs, keygen,
and the recovery of a home whose heads are gone (``restore-heads``)."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from faceaudit.base.actor import default_actor
from faceaudit.cli.grammar import GrammarGroup, error_line
from faceaudit.cli.options import (
    EXIT_TAMPERED,
    HomeOption,
    require_home,
)
from faceaudit.cli.output import JsonOption, emit
from faceaudit.ledger.canonical import canonical
from faceaudit.ledger.errors import LedgerError
from faceaudit.ledger.oversight import build_oversight, write_oversight
from faceaudit.ledger.report_period import parse_bound, report_period
from faceaudit.ledger.signing import (
    SIGNING_KEY_ENV,
    fingerprint,
    generate_keypair,
    write_public_key,
)
from faceaudit.ledger.sth import parse_sth
from faceaudit.ledger.store import Ledger
from faceaudit.service.record_check import check_record

ledger_app = typer.Typer(
    help="The tamper-evident ledger: verify it, export it, report on it, sign it.",
    no_args_is_help=True,
    cls=GrammarGroup,  # errors: one line (faceaudit.cli.grammar)
)

@ledger_app.command()
def verify(
    home: HomeOption = None,
    public_key: Annotated[
        Path | None,
        typer.Option(help="Check signed tree heads with this public key (default: the home's)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Verify the whole ledger, then the stores bound to it (gallery, API keys); exit 0 when intact,
    4 when tampered (names the first bad event, or each store row that disagrees)."""
    deployment = require_home(home)
    checked = check_record(deployment, public_key)
    report, stores = checked.report, checked.stores
    emit(checked.to_dict(), as_json, lambda data: "\n".join([data["summary"], *data["stores"]]))
    if not report.ok:
        typer.echo(error_line("the ledger fails verification", str(deployment.ledger_path)),
                   err=True)
        raise typer.Exit(EXIT_TAMPERED)
    if stores:
        typer.echo(error_line(f"{len(stores)} store row(s) disagree with the ledger",
                              str(deployment.root)), err=True)
        raise typer.Exit(EXIT_TAMPERED)


@ledger_app.command()
def export(
    home: HomeOption = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write here instead of stdout.")] = None,
) -> None:
    """Export every event as JSON lines (the ledger's own canonical encoding)."""
    lines = (canonical(e) + b"\n" for e in Ledger(require_home(home)).events())
    if out is None:
        for line in lines:
            sys.stdout.write(line.decode("ascii"))
    else:
        with open(out, "wb") as fh:
            fh.writelines(lines)


@ledger_app.command()
def report(
    out: Annotated[Path, typer.Option("--out", help="Folder for the HTML and CSV files.")],
    start: Annotated[str | None, typer.Option(
        "--from", metavar="DAY",
        help="First day (YYYY-MM-DD, UTC), 'today' or an ISO-8601 time; default: the first "
             "event.")] = None,
    end: Annotated[str | None, typer.Option(
        "--to", metavar="DAY",
        help="Last day, included (YYYY-MM-DD), 'today' or an ISO-8601 time; default: now.")
    ] = None,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Write the oversight report (HTML, JSON, CSV) for a period and print the files written.

    With no --from/--to it covers every event up to now, as GET /v1/reports/oversight does."""
    first = None if start is None else _day(start, "--from")
    last = None if end is None else _day(end, "--to", end=True)
    try:
        period = report_period(first, last)
    except ValueError:
        raise typer.BadParameter(f"{end or 'now'} is before --from {start}",
                                 param_hint="--to") from None
    built = build_oversight(Ledger(require_home(home)), *period)
    written = [str(path) for path in write_oversight(built, out)]
    emit({"files": written}, as_json, lambda data: "\n".join(data["files"]))


def _day(text: str, option: str, end: bool = False) -> datetime:
    """``text`` as a UTC moment (a day's start, or its end with ``end``; ``today``); a usage
    error naming ``option`` otherwise."""
    try:
        return parse_bound(text, end=end)
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not YYYY-MM-DD, 'today' or an ISO-8601 time", param_hint=option
        ) from None


KeyOption = Annotated[
    Path | None,
    typer.Option("--key", envvar=SIGNING_KEY_ENV,
                 help="Ed25519 private key (PEM); default: the deployment's own key."),
]


UpgradeOption = Annotated[
    bool,
    typer.Option("--upgrade", help=(
        "Once, for a home from before every event was signed: also cover the events after "
        "its newest faceaudit-sth/1 head (recorded as a ledger_recovery event).")),
]


@ledger_app.command()
def sth(key: KeyOption = None, home: HomeOption = None, upgrade: UpgradeOption = False,
        as_json: JsonOption = False) -> None:
    """Sign a tree head for the ledger as it is now (after verifying it against the newest
    head) and print it; exit 4 when the ledger does not verify or no key is configured."""
    head = Ledger(require_home(home)).sign_tree_head(key, upgrade=upgrade)
    emit(head.to_dict(), as_json)


@ledger_app.command(hidden=True)
def checkpoint(key: KeyOption = None, home: HomeOption = None, as_json: JsonOption = False) -> None:
    """Former name of ``ledger sth`` (signed tree heads replaced checkpoint events)."""
    sth(key, home, False, as_json)


@ledger_app.command("restore-heads")
def restore_heads(
    file: Annotated[Path, typer.Argument(
        help="A copy of the heads: a witness's heads.jsonl or a backup of ledger.sth.jsonl.")],
    home: HomeOption = None,
    actor: Annotated[str | None, typer.Option(help="Who restores (default: the OS user).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Recover a home whose signed tree heads are gone: the newest head of FILE signed by the
    deployment's key must cover every event and the ledger must verify against it; the
    restore is itself a logged, signed event. Exit 4 when it does not verify."""
    deployment = require_home(home)
    try:
        heads = [parse_sth(json.loads(line))
                 for line in file.read_bytes().splitlines() if line.strip()]
    except (OSError, ValueError, LedgerError) as exc:
        raise LedgerError(f"cannot read signed tree heads from {file}: {exc}",
                          which=str(file)) from None
    logged = Ledger(deployment).restore_heads(heads, str(file), default_actor(actor))
    emit({"restored_tree_size": logged["result"]["restored_tree_size"],
          "event_seq": logged["seq"]}, as_json,
         lambda data: (f"heads restored: the ledger's {data['restored_tree_size']} events "
                       f"verify; recorded as event {data['event_seq']}"))


@ledger_app.command()
def prove(
    seq: Annotated[
        int | None, typer.Option("--seq", help="Inclusion proof of this event (1-based seq).")
    ] = None,
    first: Annotated[
        int | None, typer.Option("--first", help="Consistency proof from this tree size …")
    ] = None,
    second: Annotated[
        int | None,
        typer.Option("--second", "--tree-size",
                     help="… to this tree size (default: the latest signed tree head's)."),
    ] = None,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Print an inclusion proof (--seq N) or a consistency proof (--first M [--second N]),
    with the latest signed tree head."""
    if (seq is None) == (first is None):
        raise LedgerError("give exactly one of --seq and --first")
    ledger = Ledger(require_home(home))
    if seq is not None:
        proof = ledger.inclusion_proof(seq, second)
    else:
        assert first is not None
        proof = ledger.consistency_proof(first, second)
    head = ledger.latest_tree_head()
    proof["sth"] = head.to_dict() if head else None
    emit(proof, as_json)



@ledger_app.command()
def keygen(
    out: Annotated[Path | None, typer.Option(
        "--out", help="Where to write a file private key (PEM), outside the home.")] = None,
    pkcs11: Annotated[bool, typer.Option(
        "--pkcs11", help="Generate the key on the PKCS#11 token named by FACEAUDIT_PKCS11_* "
                         "(not extractable: the production setting).")] = False,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create the deployment's signing key before the first event, instead of the home's own
    key: on a PKCS#11 token (--pkcs11) or as a file outside the home (--out, mode 0600); its
    public half goes into the home."""
    if (out is None) == (not pkcs11):
        raise LedgerError("give exactly one of --out and --pkcs11")
    deployment = require_home(home)
    if deployment.public_key_path.exists():
        raise LedgerError(
            f"the deployment already has a signing key ({deployment.public_key_path}); "
            "replacing it would orphan every signed tree head and every witness's pin")
    if pkcs11:
        from faceaudit.ledger.pkcs11_signer import TokenSettings, generate_token_key

        settings = TokenSettings.from_env()
        public = generate_token_key(settings)
        write_public_key(public, deployment.public_key_path)
        emit({"key_id": fingerprint(public), "token": settings.token,
              "key_label": settings.key_label,
              "public_key": str(deployment.public_key_path)}, as_json)
        return
    assert out is not None
    target = out.expanduser().resolve()
    if target.is_relative_to(deployment.root):
        raise LedgerError("keep the private key outside the deployment home")
    key_id = generate_keypair(target, deployment.public_key_path)
    emit({"key_id": key_id, "private_key": str(target),
          "public_key": str(deployment.public_key_path)}, as_json)
