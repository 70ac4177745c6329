"""The policy's history for the oversight report: for each ``policy_change`` event, the text
that was installed (kept under its SHA-256 by ``policy set``, checked against the hash the event
records), the waiver it carried with its reason, and a readable diff against the policy before.
"""

from __future__ import annotations

import difflib
import hashlib
import tomllib
from typing import Any

from faceaudit.base.home import Home


def kept_policy_text(home: Home, sha256: str | None) -> str | None:
    """The text of the policy with ``sha256`` as the home kept it, or None when it was not kept
    or no longer hashes to ``sha256`` (so an edited copy is never shown as the evidence)."""
    if not sha256:
        return None
    path = home.policy_archive_path(sha256)
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if hashlib.sha256(data).hexdigest() != sha256:
        return None
    return data.decode("utf-8", errors="replace")


def waiver_of(text: str | None) -> str | None:
    """The ``bias_gate.waived_because`` reason of a policy text, or None."""
    if text is None:
        return None
    try:
        gate = tomllib.loads(text).get("bias_gate", {})
    except tomllib.TOMLDecodeError:
        return None
    reason = gate.get("waived_because") if isinstance(gate, dict) else None
    return reason if isinstance(reason, str) and reason.strip() else None


def with_policy_history(home: Home, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ``policy_changes`` rows with ``text_kept``, ``waived_because``, ``text`` and
    ``diff`` (unified, against the policy each change replaced; the default policy when
    there was none before)."""
    out = []
    for row in rows:
        text = kept_policy_text(home, row.get("sha256"))
        before = kept_policy_text(home, row.get("previous_sha256"))
        if text is None:
            diff = None
        else:
            diff = "".join(difflib.unified_diff(
                (before or "").splitlines(keepends=True), text.splitlines(keepends=True),
                fromfile=(row.get("previous_sha256") or "default policy")[:12],
                tofile=str(row.get("sha256"))[:12]))
        out.append({**row, "text_kept": text is not None, "waived_because": waiver_of(text),
                    "text": text, "diff": diff})
    return out
