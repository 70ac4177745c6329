"""``faceaudit report``: reports for the people outside the deployment — the public and the
legislature (transparency statistics) and the deployer's own accountability report.

Each report lives in a module of its own and adds its command to :data:`report_app` below.
"""

from __future__ import annotations

import typer

from faceaudit.cli.grammar import GrammarGroup

report_app = typer.Typer(
    help="Reports for the public and for the deployer: transparency statistics, the"
         " accountability report.",
    no_args_is_help=True,
    cls=GrammarGroup,
)


@report_app.callback()
def _report() -> None:
    """Reports for the public and for the deployer: transparency statistics, the
    accountability report."""


from faceaudit.cli.report_accountability import accountability  # noqa: E402

report_app.command("accountability")(accountability)

from faceaudit.cli.report_transparency import transparency  # noqa: E402

report_app.command("transparency")(transparency)
