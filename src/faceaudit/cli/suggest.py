"""Suggestions for an unknown command: ``faceaudit enrol`` → ``did you mean 'gallery enrol'``.

Looks among the group's own commands (close spellings) and the commands of its sub-groups
(the same name one level down; lazily loaded sub-commands are imported then, on this error
path only).
"""

from __future__ import annotations

import difflib
from typing import Any

from typer import _click as click  # Typer parses with its own copy of Click


def _names(group: Any, ctx: click.Context) -> list[str]:
    return list(group.list_commands(ctx))


def suggestion(group: Any, ctx: click.Context, name: str) -> str | None:
    """The command line a user probably meant by ``name`` under ``group``, or None."""
    own = _names(group, ctx)
    close = difflib.get_close_matches(name, own, n=1, cutoff=0.75)
    if close:
        return close[0]
    for sub_name in own:
        sub: Any = group.get_command(ctx, sub_name)
        if hasattr(sub, "list_commands") and name in _names(sub, ctx):  # a sub-group
            return f"{sub_name} {name}"
    return None


def with_suggestion(message: str, group: Any, ctx: click.Context,
                    name: str) -> str:
    """``message`` (Click's "No such command …") with "did you mean" appended when there is a
    likely command and Click has not suggested one already; the full command path is named."""
    meant = None if "did you mean" in message.lower() else suggestion(group, ctx, name)
    if meant is None:
        return message
    return f"{message.rstrip('.')}; did you mean '{ctx.command_path} {meant}'?"
