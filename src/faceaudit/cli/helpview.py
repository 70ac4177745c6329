"""``--help`` for people: plain metavars and the completion options on the root only.

Typer prints each parameter's Python type (``<list[Path]>``, ``<str>``, ``<bool>`` on a plain
flag); here every option without a metavar of its own gets a plain one (``TEXT``, ``N``,
``PATH``, the choices), a flag gets none, an argument shows its name alone, and the
``--install-completion`` / ``--show-completion`` options Typer adds to every sub-app are taken
off all but the root command. Presenting only: parsing is unchanged.
"""

from __future__ import annotations

from typing import Any

COMPLETION = frozenset({"install_completion", "show_completion"})
_PLAIN = {"str": "TEXT", "int": "N", "float": "NUMBER", "path": "PATH", "file": "PATH",
          "directory": "DIR", "datetime": "DATETIME", "bool": "BOOLEAN"}
_TIDY = "_faceaudit_tidy"


def _plain_metavar(param: Any, ctx: Any) -> str:
    label = str(param.display_type(ctx)).strip("<>")
    many = label.startswith("list[")
    label = label.removeprefix("list[").removesuffix("]")
    return _PLAIN.get(label, label) + ("..." if many else "")


def _no_type(ctx: Any) -> None:
    return None


def tidy_help(command: Any, ctx: Any, *, root: bool = False) -> None:
    """Tidy ``command`` (and, for a group, its loaded sub-commands) once: plain metavars; no
    completion options unless ``root``."""
    if getattr(command, _TIDY, False):
        return
    setattr(command, _TIDY, True)
    params = []
    for param in command.params:
        if not root and param.name in COMPLETION:
            continue
        if param.param_type_name == "argument":
            param.display_type_rich = _no_type  # the name column already names it
            if param.metavar is None and param.name:
                param.metavar = param.name.upper()  # as the docs write it: IMAGES...
        elif getattr(param, "is_flag", False):
            param.metavar = ""
        elif param.metavar is None and hasattr(param, "display_type"):
            try:
                param.metavar = _plain_metavar(param, ctx)
            except (AttributeError, TypeError, AssertionError):
                pass
        params.append(param)
    command.params = params
    help_option = command.get_help_option(ctx) if hasattr(command, "get_help_option") else None
    if help_option is not None:
        help_option.metavar = ""
    for sub in getattr(command, "commands", {}).values():
        tidy_help(sub, ctx)
