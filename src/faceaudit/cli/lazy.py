"""Sub-commands that the ``faceaudit`` CLI imports only when they are run.

Importing every pillar's command module up front pulls in numpy, pyarrow, faiss, fastapi and the
audit engine before ``faceaudit --help`` can print a line. Here each sub-command is named by its
module and attribute plus the one-paragraph summary ``--help`` lists; the module is imported the
first time the command itself is resolved (to run it or to show its own help). A test keeps each
summary equal to the first paragraph of the real command's help.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

import typer
import typer.core
from typer import _click as click  # Typer parses with its own copy of Click

from faceaudit.cli.grammar import GrammarGroup


@dataclass(frozen=True)
class LazyCommand:
    """Where a sub-command lives (``module:attribute``) and the summary the top help shows."""

    module: str
    attribute: str
    summary: str

    def load(self, name: str) -> click.Command:
        """Import the module and build the click command (a Typer app or a command function)."""
        target = getattr(importlib.import_module(self.module), self.attribute)
        if isinstance(target, typer.Typer):
            command = typer.main.get_command(target)
        else:
            holder = typer.Typer()
            holder.command(name)(target)
            command = typer.main.get_command(holder)
        command.name = name
        return command


# Order is the order ``faceaudit --help`` lists them (after detect/embed/verify).
LAZY_COMMANDS: dict[str, LazyCommand] = {
    "init": LazyCommand(
        "faceaudit.cli.init", "init_command",
        "Create the deployment home (default: $FACEAUDIT_HOME or ~/.faceaudit) and print it.",
    ),
    "audit": LazyCommand(
        "faceaudit.cli.audit", "audit_command",
        "Audit demographic differentials in face recognition error rates (NIST IR 8280 style).",
    ),
    "compare": LazyCommand(
        "faceaudit.cli.compare", "compare_command",
        "Show existing audit reports side by side: every rate and summary per model and each"
        " model's difference from the first.",
    ),
    "identify": LazyCommand(
        "faceaudit.cli.gallery", "identify_command",
        "Search the gallery for every face in IMAGE; candidates are leads for human review.",
    ),
    "review": LazyCommand(
        "faceaudit.cli.reviews", "review_app",
        "Review candidates one by one, blind and independently: pending, show, decide.",
    ),
    "lead": LazyCommand(
        "faceaudit.cli.reviews", "lead_app",
        "A lead is not evidence: record an action on a confirmed lead (with independent"
        " evidence) and its outcome.",
    ),
    "case": LazyCommand(
        "faceaudit.cli.case", "case_app",
        "A case's disclosure bundle: export it for the defence, verify one offline.",
    ),
    "authorisation": LazyCommand(
        "faceaudit.cli.authorisation", "authorisation_app",
        "Urgent searches: record the authority's decision, list held searches, delete late"
        " ones.",
    ),
    "witness": LazyCommand(
        "faceaudit.cli.witness", "witness_command",
        "Fetch the deployment's latest signed tree head and a consistency proof from the last"
        " head this witness accepted; verify both with the pinned public key only. Prints a"
        " summary; exit 0 when the log only grew, 4 on a fork, rollback, missing prefix, bad"
        " signature or replaced public key, 2 on bad input.",
    ),
    "redact": LazyCommand(
        "faceaudit.cli.redact", "redact_command",
        "Redact every face in INPUT into OUTPUT and write OUTPUT.redaction.json beside it.",
    ),
    "serve": LazyCommand(
        "faceaudit.cli.serve", "serve_command",
        "Run the REST service (OpenAPI at /docs) for one deployment home.",
    ),
    "auditor": LazyCommand(
        "faceaudit.cli.auditor", "auditor_app",
        "Auditor keys and signatures: a deployment registers only audits signed by keys its"
        " policy trusts.",
    ),
    "gallery": LazyCommand(
        "faceaudit.cli.gallery", "gallery_app",
        "The consented gallery: enrol, list, erase and purge subjects.",
    ),
    "ledger": LazyCommand(
        "faceaudit.cli.ledger", "ledger_app",
        "The tamper-evident ledger: verify it, export it, report on it, sign it.",
    ),
    "policy": LazyCommand(
        "faceaudit.cli.policy", "policy_app",
        "The deployment policy and its bias gate.",
    ),
    "report": LazyCommand(
        "faceaudit.cli.report", "report_app",
        "Reports for the public and for the deployer: transparency statistics, the"
        " accountability report.",
    ),
    "keys": LazyCommand(
        "faceaudit.cli.serve", "keys_app",
        "Create, revoke and list the service's API keys.",
    ),
}


class LazyCommandGroup(GrammarGroup):
    """The top-level group: eager commands as usual, :data:`LAZY_COMMANDS` imported on use;
    errors reported by the grammar (:class:`~faceaudit.cli.grammar.GrammarGroup`)."""

    _listing = False  # True while the group's own help is being written

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Eager commands first, then the lazy ones not loaded yet, in table order."""
        names = super().list_commands(ctx)
        return names + [name for name in LAZY_COMMANDS if name not in self.commands]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command; a lazy one is imported now, except for a mere listing in the help."""
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        lazy = LAZY_COMMANDS.get(cmd_name)
        if lazy is None:
            return None
        if self._listing:
            return typer.core.TyperCommand(cmd_name, help=lazy.summary)
        command = lazy.load(cmd_name)
        self.commands[cmd_name] = command
        return command

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Write the help, listing lazy commands by their summaries without importing them."""
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False
