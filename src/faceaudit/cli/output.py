"""What a command prints on stdout: a human view by default, one JSON document with ``--json``.

Every command that produces data takes :data:`JsonOption` and ends with :func:`emit`; the JSON
is the contract for scripts (docs/cli.md), the human view is for people and may change.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Annotated, Any

import typer

JsonOption = Annotated[
    bool,
    typer.Option("--json", help="Print the result as one JSON document on stdout (default: a "
                 "human view)."),
]


def emit(data: Any, as_json: bool, human: Callable[[Any], str] | None = None) -> None:
    """Print ``data``: one JSON document with ``--json``, else ``human(data)`` (by default
    :func:`describe`)."""
    if as_json:
        text = json.dumps(data, indent=2, ensure_ascii=False)
    else:
        text = (human or describe)(data)
    sys.stdout.write(text.rstrip("\n") + "\n")


def _scalar(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list) and all(not isinstance(v, (dict, list)) for v in value):
        return ", ".join(_scalar(v) for v in value) or "none"
    return str(value)


def describe(data: Any, indent: int = 0) -> str:
    """A plain human view of JSON-like ``data``: ``key: value`` lines, nested blocks indented,
    list items as ``-`` entries."""
    pad = "  " * indent
    lines: list[str] = []
    if isinstance(data, dict):
        for key, value in data.items():
            label = str(key).replace("_", " ")
            if isinstance(value, (dict, list)) and value and not (
                isinstance(value, list) and all(not isinstance(v, (dict, list)) for v in value)
            ):
                lines.append(f"{pad}{label}:")
                lines.append(describe(value, indent + 1))
            else:
                lines.append(f"{pad}{label}: {_scalar(value)}")
    elif isinstance(data, list):
        if not data:
            lines.append(f"{pad}(none)")
        for item in data:
            if isinstance(item, dict):
                block = describe(item, indent + 1).splitlines()
                lines.append(f"{pad}- {block[0].strip()}")
                lines.extend(block[1:])
            else:
                lines.append(f"{pad}- {_scalar(item)}")
    else:
        lines.append(f"{pad}{_scalar(data)}")
    return "\n".join(lines)
