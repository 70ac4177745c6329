"""``faceaudit report transparency``: the public statistics a statute asks for, per period,
small cells suppressed (docs/reports.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from faceaudit.base.errors import InputDataError
from faceaudit.cli.options import HomeOption, require_home
from faceaudit.cli.output import JsonOption, emit

TEMPLATE_HELP = ("Layout: full (default), maryland-2-510, utah-77-23e-106, montana-44-15-111, "
                 "washington-43-386.")


def transparency(
    start: Annotated[str, typer.Option("--from", help="First day (YYYY-MM-DD, UTC) or time.")],
    end: Annotated[str, typer.Option("--to", help="Last day, included (YYYY-MM-DD) or time.")],
    period: Annotated[str, typer.Option(
        "--period", help="Columns: month (default), quarter or year.")] = "month",
    template: Annotated[str, typer.Option("--template", help=TEMPLATE_HELP)] = "full",
    out: Annotated[Path | None, typer.Option(
        "--out", help="Folder for transparency.json, .csv and .html (default: a terminal "
                      "summary only).")] = None,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Counts per period of searches by offence and purpose, candidates, confirmed leads,
    actions and outcomes, refusals by rule, waivers, erasures, authorisations, audits in
    force and integrity alarms; counts below the policy's transparency.k are suppressed."""
    from faceaudit.deployment.transparency import (
        TransparencyRequestError,
        build_transparency,
        check_choices,
        parse_bound,
    )
    from faceaudit.ledger.transparency_files import terminal_summary, write_transparency

    check_choices(period, template, unit_name="--period", template_name="--template")
    first, last = parse_bound(start, "--from"), parse_bound(end, "--to", end=True)
    if last <= first:
        raise TransparencyRequestError(f"{end} is before --from {start}", which="--to")
    report = build_transparency(require_home(home), first, last, unit=period,
                                template=template)
    paths: list[Path] = []
    if out is not None:
        try:
            paths = write_transparency(report, out)
        except OSError as exc:
            raise InputDataError(f"cannot write the report into {out}: {exc.strerror}",
                                 which=str(out)) from None
    emit({**report, "files": [str(p) for p in paths]}, as_json,
         lambda data: terminal_summary(report, paths))
