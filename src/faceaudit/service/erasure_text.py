"""What an erasure, purge or deletion of search outputs did, as one sentence for a person
(the auditor's page) — the oversight report keeps the event's fields as compact JSON
(``summary``) for machines; this turns that back into words. Presenting only."""

from __future__ import annotations

import json
from typing import Any

#: fields of the log's plumbing, not of what was deleted
_PLUMBING = {"intent_id", "recovered"}
_SHOWN_IDS = 5


def _count(n: Any, noun: str) -> str:
    plural = noun + ("es" if noun.endswith(("s", "sh", "ch")) else "s")
    return f"{n} {noun if n == 1 else plural}"


def _ids(ids: list[Any]) -> str:
    shown = ", ".join(str(i) for i in ids[:_SHOWN_IDS])
    more = len(ids) - _SHOWN_IDS
    return shown + (f" and {more} more" if more > 0 else "")


def _fields(result: dict[str, Any]) -> str:
    parts = []
    for key, value in sorted(result.items()):
        if key in _PLUMBING or value is None:
            continue
        label = key.replace("_", " ")
        if isinstance(value, list):
            parts.append(f"{label}: {_ids(value) or 'none'}")
        elif isinstance(value, dict):
            parts.append(f"{label}: {_fields(value)}")
        else:
            parts.append(f"{label}: {value}")
    return "; ".join(parts)


def erasure_sentence(action: str, summary: str) -> str:
    """One sentence for the oversight report's erasure row of ``action`` (``erase``,
    ``purge``, ``outputs_deleted``) whose event result is the JSON ``summary``."""
    try:
        result = json.loads(summary)
    except (TypeError, ValueError):
        return str(summary)
    if not isinstance(result, dict):
        return str(summary)
    recovered = " (completed at recovery)" if result.get("recovered") else ""
    if action == "erase" and "subject_id" in result:
        text = (f"subject {result['subject_id']} erased: "
                f"{_count(result.get('templates', 0), 'template')} and "
                f"{_count(result.get('images', 0), 'kept image')} deleted")
    elif action == "purge" and "subject_ids" in result:
        text = (f"{_count(result.get('subjects', len(result['subject_ids'])), 'subject')} past "
                f"their consent purged ({_ids(result['subject_ids']) or 'none'}), "
                f"{_count(result.get('templates', 0), 'template')} deleted")
    elif action == "purge" and "probe_crops_of" in result:
        text = (f"probe crops of {_count(result.get('results', 0), 'search')} deleted "
                f"({_ids(result['probe_crops_of'])}): {result.get('reason') or 'purged'}")
    elif action == "outputs_deleted" and "result_ids" in result:
        text = (f"outputs of {_count(len(result['result_ids']), 'search')} deleted "
                f"({_ids(result['result_ids'])}): {result.get('reason') or 'deleted'}"
                + ("; the case is flagged" if result.get("case_flagged") else ""))
    else:
        text = _fields(result) or action
    return text + recovered
