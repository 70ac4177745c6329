"""``--decision VALUE``, the REST field's name on the command line, beside the old flag
spellings (``--confirm`` / ``--reject``, ``--granted`` / ``--refused``) kept for one release:
exactly one decision, however it is spelled."""

from __future__ import annotations

import typer


def one_decision(decision: str | None, flags: dict[str, bool]) -> str:
    """The one decision given as ``--decision`` or as one of the old ``flags`` (value → set?).

    Raises a usage error (exit 2) naming ``--decision`` and its values when none, several, or
    an unknown value is given.
    """
    values = list(flags)
    spelled = "|".join(values)
    old = " / ".join(f"--{v}" for v in values)
    given = [v for v, on in flags.items() if on]
    if decision is not None:
        value = decision.strip().lower()
        if value not in values:
            raise typer.BadParameter(f"{decision!r} is not one of {spelled}",
                                     param_hint="--decision")
        given.append(value)
    if len(given) != 1:
        raise typer.BadParameter(f"give exactly one of --decision {spelled} (or {old})",
                                 param_hint="--decision")
    return given[0]
