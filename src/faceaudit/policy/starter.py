"""``faceaudit policy init``: write the starter policy (the shipped copy of
examples/policy.toml, every key commented) for a deployment to review and install."""

from __future__ import annotations

import json
import os
import re
from importlib.resources import files
from pathlib import Path

from faceaudit.policy.errors import PolicyError
from faceaudit.policy.model import parse_policy

_GATE_HEADER = re.compile(r"^\[bias_gate\][ \t]*\n", re.M)


def starter_policy_text(waive: str | None = None) -> str:
    """The starter policy's TOML text (valid: it parses as a policy).

    With ``waive`` (a reason, said out loud), ``bias_gate.waived_because`` is set to it: an
    evaluation home may then identify without a passing audit, and ``policy status`` says so.
    """
    text = (files("faceaudit") / "data" / "starter-policy.toml").read_text(encoding="utf-8")
    if waive is None:
        return text
    if not waive.strip():
        raise PolicyError("the reason for waiving the bias gate is empty (--waive)")
    header = _GATE_HEADER.search(text)
    assert header is not None, "the starter policy has a [bias_gate] table"
    line = ("# Waived by `faceaudit policy init --waive`: remove this line once an audit is "
            f"registered.\nwaived_because = {json.dumps(waive.strip())}\n")
    return text[: header.end()] + line + text[header.end():]


def write_starter_policy(path: Path, waive: str | None = None) -> Path:
    """Write the starter policy (waiving the gate for ``waive``, if given) to ``path``;
    refuse (:class:`PolicyError`) an existing file."""
    text = starter_policy_text(waive)
    parse_policy(text.encode("utf-8"), source="starter-policy.toml")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        raise PolicyError(f"{path} already exists; refusing to overwrite it") from None
    except OSError as exc:
        raise PolicyError(f"cannot write {path}: {exc.strerror}") from None
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    return Path(path)
