"""``faceaudit gallery …`` and ``faceaudit identify`` (review: :mod:`faceaudit.cli.reviews`).

Thin wrappers over :class:`faceaudit.deployment.operations.Deployment` (the REST service calls the
same
class). Output is JSON on stdout. Exit codes: 0 done; 2 bad input, a missing home, a ledger
that refuses the record, or an erasure that a reader blocked; 4 a tampered ledger; 5 refused
by the deployment policy (the refusal is in the ledger). Errors are reported as one line by
:mod:`faceaudit.cli.grammar`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from faceaudit.base.actor import default_actor
from faceaudit.base.errors import InputDataError
from faceaudit.base.progress import ProgressReport
from faceaudit.cli.grammar import GrammarGroup, error_line, warning_line
from faceaudit.cli.options import (
    EXIT_INPUTS_REFUSED,
    EXIT_REFUSED,
    ActorOption,
    HomeOption,
    require_home,
)
from faceaudit.cli.output import JsonOption, emit
from faceaudit.cli.views import QuietOption, ReceiptOption, enrol_view, identify_view, quiet_or_json
from faceaudit.gallery.errors import InvalidRequestError

gallery_app = typer.Typer(
    help="The consented gallery: enrol, list, erase and purge subjects.",
    no_args_is_help=True,
    cls=GrammarGroup,  # errors: one line (faceaudit.cli.grammar)
)

@contextmanager
def _deployment(home: Path | None) -> Iterator:
    """Yield the Deployment of ``--home`` (its errors carry their own exit codes: a policy
    refusal 5, a tampered ledger 4, before anything is done)."""
    from faceaudit.deployment.operations import Deployment

    yield Deployment(require_home(home), notify=lambda line: typer.echo(f"faceaudit: {line}",
                                                                        err=True))


def _parse_expiry(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not an ISO date (YYYY-MM-DD)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@gallery_app.command()
def enrol(
    images: Annotated[list[Path], typer.Argument(help="Images, each showing only the subject")],
    subject: Annotated[str, typer.Option(
        "--subject-id", "--subject", help="Opaque subject id (--subject: the old name, "
        "accepted through 0.2)")],
    basis: Annotated[str, typer.Option(
        "--basis", help="Legal basis: consent, explicit-consent, contract, legal-obligation, "
        "vital-interests, public-task, legitimate-interests, employment, not-for-profit-body, "
        "made-public, legal-claims, substantial-public-interest, health-care, public-health, "
        "archiving-research, or other:NOTE (docs/gallery.md)")],
    evidence: Annotated[str, typer.Option("--evidence", help="Reference to the consent record")],
    expires: Annotated[
        str | None,
        typer.Option("--expires-at", "--expires",
                     help="Consent expiry (ISO date: expires at 00:00 UTC; --expires: the old "
                     "name, accepted through 0.2)"),
    ] = None,
    name: Annotated[str | None, typer.Option(
        "--display-name", "--name",
        help="Display name (--name: the old name, accepted through 0.2)")] = None,
    keep_images: Annotated[
        bool, typer.Option("--keep-images", help="Also store the enrolment images")
    ] = False,
    allow_duplicate: Annotated[
        bool, typer.Option("--allow-duplicate",
                           help="Enrol even if the face matches another subject (recorded)")
    ] = False,
    home: HomeOption = None,
    actor: ActorOption = None,
    as_json: JsonOption = False,
    receipt: ReceiptOption = False,
    quiet: QuietOption = False,
) -> None:
    """Enrol a subject from IMAGES under a recorded legal basis (one template per image)."""
    quiet_or_json(quiet, as_json)
    expires_at = _parse_expiry(expires)
    from faceaudit.policy import PolicyRefusal

    with _deployment(home) as deployment:
        try:
            enrolled = deployment.enrol(
                actor=default_actor(actor), subject_id=subject, images=images, basis=basis,
                evidence=evidence, expires_at=expires_at, display_name=name,
                keep_images=keep_images, allow_duplicate=allow_duplicate,
            )
        except PolicyRefusal as refusal:
            if refusal.rule != "duplicate-face":
                raise
            raise refusal.with_hint("--allow-duplicate enrols anyway (recorded)") from None
        for warning in enrolled.get("warnings", []):
            typer.echo(warning_line(warning), err=True)
        if quiet:
            typer.echo(enrolled["subject_id"])
            return
        emit(enrolled, as_json, lambda d: enrol_view(d, receipt=receipt))


@gallery_app.command("enrol-folder")
def enrol_folder(
    folder: Annotated[Path, typer.Argument(help="One sub-folder of images per subject")],
    basis: Annotated[str, typer.Option(
        "--basis", help="Legal basis of every enrolment (as for `gallery enrol`)")],
    evidence_column: Annotated[str, typer.Option(
        "--evidence-column", help="Manifest column holding each subject's consent reference")],
    manifest: Annotated[Path | None, typer.Option(
        "--manifest", help="Manifest CSV (default FOLDER/manifest.csv): folder, "
        "[subject_id], [display_name], [expires], and the evidence column")] = None,
    results: Annotated[Path, typer.Option(
        "--results", help="Where each image's outcome is written (JSON lines)")
    ] = Path("enrol-results.jsonl"),
    keep_images: Annotated[
        bool, typer.Option("--keep-images", help="Also store the enrolment images")
    ] = False,
    allow_duplicate: Annotated[
        bool, typer.Option("--allow-duplicate",
                           help="Enrol even if a face matches another subject (recorded)")
    ] = False,
    home: HomeOption = None,
    actor: ActorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Enrol every sub-folder of FOLDER as one subject, all or nothing per subject.

    Each subject needs a manifest row; a subject with a bad image is not enrolled at all, the
    others are. Every enrolment is policy-checked and logged as `gallery enrol` does. Exit 0
    when every subject was enrolled, 6 when some were not (the result file says why), 5 when
    the policy refused.
    """
    from faceaudit.deployment.enrol_folder import enrol_folder as run

    with _deployment(home) as deployment, ProgressReport() as shown:
        task = shown.task("enrol-folder", None, "images")  # faceaudit.base.progress: stderr
        summary = run(deployment, folder, actor=default_actor(actor), basis=basis,
                      evidence_column=evidence_column, results=results, manifest=manifest,
                      keep_images=keep_images, allow_duplicate=allow_duplicate,
                      progress=lambda done, total, subject: task.update(done, total))
    emit(summary.as_dict(results), as_json)
    if summary.refused is not None:
        typer.echo(error_line(f"{summary.refused}; the subjects after it were not attempted",
                              str(results)), err=True)
        raise typer.Exit(EXIT_REFUSED)
    if summary.not_enrolled:
        typer.echo(error_line(f"{len(summary.not_enrolled)} subject(s) not enrolled, the "
                              "others were; each image's reason is in the result file",
                              str(results)), err=True)
        raise typer.Exit(EXIT_INPUTS_REFUSED)


@gallery_app.command("list")
def list_(home: HomeOption = None, as_json: JsonOption = False) -> None:
    """List enrolled subjects with their consent records and template counts."""
    with _deployment(home) as deployment:
        emit(deployment.list_subjects(), as_json)


@gallery_app.command()
def erase(
    subject: Annotated[str, typer.Argument(help="Subject id to erase")],
    purpose: Annotated[str | None, typer.Option("--purpose", help="Why (e.g. request)")] = None,
    case: Annotated[str | None, typer.Option("--case", help="Case or request id")] = None,
    home: HomeOption = None,
    actor: ActorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Erase a subject: templates, kept images and consent; the bytes leave the database."""
    with _deployment(home) as deployment:
        emit(deployment.erase(actor=default_actor(actor), subject_id=subject,
                              purpose=purpose, case=case), as_json)


@gallery_app.command("subject-export")
def subject_export(
    subject: Annotated[str, typer.Argument(help="Subject id whose data is requested")],
    out: Annotated[Path | None, typer.Option(
        "--out", help="Write the JSON export here (default: stdout).")] = None,
    purpose: Annotated[str | None, typer.Option("--purpose", help="Why (e.g. access request)")]
    = None,
    case: Annotated[str | None, typer.Option("--case", help="The request's reference")] = None,
    home: HomeOption = None,
    actor: ActorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Everything held and logged about one subject, for an access request (GDPR Art. 15):
    consent records, template hashes, searches that returned them, reviews, erasure state.
    The export is itself logged. Without --out the export is printed (always JSON)."""
    with _deployment(home) as deployment:
        export = deployment.subject_export(actor=default_actor(actor), subject_id=subject,
                                           purpose=purpose, case=case)
    text = json.dumps(export, indent=2, sort_keys=True) + "\n"
    if out is None:
        typer.echo(text, nl=False)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputDataError(f"cannot write {out}: {exc.strerror}", which=str(out)) from None
    emit({"out": str(out), "events": len(export["logged"]),
          "searches": len(export["held"]["candidate_in"]), "state": export["erasure"]["state"]},
         as_json, lambda d: f"wrote {d['out']}: {d['events']} events, {d['searches']} "
                            f"searches naming {subject}, state {d['state']}")


@gallery_app.command()
def purge(
    home: HomeOption = None, actor: ActorOption = None, as_json: JsonOption = False
) -> None:
    """Erase every subject whose consent has expired."""
    with _deployment(home) as deployment:
        emit(deployment.purge(actor=default_actor(actor)), as_json)


def identify_command(
    image: Annotated[Path, typer.Argument(help="Probe image (every face in it is searched)")],
    purpose: Annotated[str, typer.Option("--purpose", help="Why this search is made")],
    case: Annotated[str, typer.Option("--case", help="Case id")],
    top: Annotated[int | None, typer.Option(
        "--top", help="Candidates per face (default and maximum: the policy's max_candidates)"
    )] = None,
    authorisation: Annotated[str | None, typer.Option(
        "--authorisation", help="Reference of the authorisation (warrant no., order id)")] = None,
    authority: Annotated[str | None, typer.Option(
        "--authority", help="Who issued the authorisation (court, authority)")] = None,
    kind: Annotated[str | None, typer.Option(
        "--authorisation-kind",
        help="warrant, judicial, administrative or urgent (results held until authorised)",
    )] = None,
    expires: Annotated[str | None, typer.Option(
        "--authorisation-expires", help="When the authorisation expires (ISO-8601)")] = None,
    offence: Annotated[str | None, typer.Option(
        "--offence", help="The offence investigated (from the policy's closed list)")] = None,
    home: HomeOption = None,
    actor: ActorOption = None,
    as_json: JsonOption = False,
    receipt: ReceiptOption = False,
    quiet: QuietOption = False,
) -> None:
    """Search the gallery for every face in IMAGE; candidates are leads for human review."""
    from faceaudit.policy.authorisation import authorisation_from

    quiet_or_json(quiet, as_json)
    with _deployment(home) as deployment:
        try:
            result = deployment.identify(
                actor=default_actor(actor), image=image, purpose=purpose, case=case, top=top,
                authorisation=authorisation_from(authorisation, authority, kind, expires),
                offence=offence)
        except InvalidRequestError as exc:
            if exc.which != "top":
                raise
            raise InvalidRequestError(f"--{exc}", which="--top") from None  # the CLI's name
        if quiet:
            typer.echo(result["result_id"])
            return
        emit(result, as_json, lambda d: identify_view(d, receipt=receipt))

