"""``faceaudit policy init``: write the starter policy (the shipped copy of
examples/policy.toml, every key commented) for a deployment to review and install."""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

from faceaudit.policy.errors import PolicyError
from faceaudit.policy.model import parse_policy


def starter_policy_text() -> str:
    """The starter policy's TOML text (valid: it parses as a policy)."""
    return (files("faceaudit") / "data" / "starter-policy.toml").read_text(encoding="utf-8")


def write_starter_policy(path: Path) -> Path:
    """Write the starter policy to ``path``; refuse (:class:`PolicyError`) an existing file."""
    text = starter_policy_text()
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
