"""``faceaudit compare``: existing audit reports side by side (registered in cli/lazy.py).

Exit codes: 0 shown, 2 bad input (a file that is not a report, reports of different schema,
target FMRs or groups); errors are raised and reported by the CLI grammar (docs/cli.md).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from faceaudit.audit.comparison_report import ComparisonInputError, comparison_section
from faceaudit.audit.comparison_terminal import print_comparison

READABLE = ("faceaudit.audit/1", "faceaudit.audit/2")


def read_report(path: Path) -> dict:
    """An audit's ``report.json`` (schema ``faceaudit.audit/2`` or /1)."""
    try:
        report = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ComparisonInputError("no such file", which=str(path)) from None
    except IsADirectoryError:
        raise ComparisonInputError("a folder, not a report.json", which=str(path)) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ComparisonInputError(f"not a JSON audit report: {exc}", which=str(path)) from None
    schema = report.get("schema") if isinstance(report, dict) else None
    if schema not in READABLE:
        raise ComparisonInputError(
            f"not a faceaudit audit report: schema {schema!r}, expected one of "
            f"{', '.join(READABLE)}",
            which=str(path),
        )
    return report


def report_names(paths: list[Path]) -> list[str]:
    """A name per report: its folder's name for ``…/report.json``, else the file's stem; the
    full paths when those clash."""
    names = [p.parent.name if p.stem == "report" and p.parent.name else p.stem for p in paths]
    return names if len(set(names)) == len(names) else [str(p) for p in paths]


def compare_command(
    reports: Annotated[
        list[Path],
        typer.Argument(help="Two or more report.json files; the first is the baseline."),
    ],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the comparison as one JSON object on stdout.")
    ] = False,
    html: Annotated[
        Path | None, typer.Option("--html", help="Also write the side-by-side page to this file.")
    ] = None,
) -> None:
    """Show existing audit reports side by side: every rate and summary per model and each
    model's difference from the first.

    The reports were computed separately, so a difference has no paired interval (the output
    says so); audit the models together (several --embeddings, --backend or --scores) for one.
    Reports of different schema, target FMRs or groups are refused (exit 2).
    """
    if len(reports) < 2:
        raise ComparisonInputError(
            f"compare needs two or more reports, got {len(reports)}", which="REPORTS"
        )
    loaded = [read_report(p) for p in reports]
    section = comparison_section(report_names(list(reports)), loaded)
    for model, path in zip(section["models"], reports, strict=True):
        model["report"] = str(path)
    if html is not None:
        from faceaudit.audit.comparison_html import write_comparison_page

        write_comparison_page(section, html, [str(p) for p in reports])
    if as_json:
        print(json.dumps({"comparison": section}, allow_nan=False))
        return
    print_comparison(section, Console(), loaded[0].get("primary_target"))
    if html is not None:
        typer.echo(f"side-by-side page written to {html}")


if __name__ == "__main__":
    typer.run(compare_command)
