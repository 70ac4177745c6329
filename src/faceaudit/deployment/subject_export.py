"""Everything held and logged about one data subject, for an access request (GDPR Art. 15):
what the gallery holds (:meth:`GalleryStore.held_about`: consent records, template hashes —
never embeddings — kept-image count, the stored searches that returned them as a candidate) and
every ledger event about them (their enrolments, erasure, 1:1 checks against them, the searches
and reviews of results that named them, refusals that named them). The export itself is a
logged event (``subject_export``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from faceaudit.ledger import Ledger

#: the event fields an export shows (never another subject's data beyond the event's own)
_SHOWN = ("seq", "time", "actor", "action", "purpose", "case", "backend_id")


def _names(result: dict[str, Any], subject_id: str, result_ids: set[str],
           task_ids: set[str]) -> bool:
    """Whether an event's ``result`` is about ``subject_id``: it names them, it is a review or
    lead record of one of their review tasks, or it is a search that returned them (reviews of
    the other candidates of that search are about other people, and are left out)."""
    if result.get("subject_id") == subject_id:
        return True
    for key in ("subject_ids", "duplicate_of", "matches"):
        listed = result.get(key)
        if isinstance(listed, list) and subject_id in listed:
            return True
    if isinstance(result.get("task_id"), str):
        return result["task_id"] in task_ids
    return result.get("result_id") in result_ids


def logged_about(ledger: Ledger, subject_id: str, result_ids: set[str],
                 task_ids: set[str] | None = None) -> list[dict[str, Any]]:
    """Every ledger event about ``subject_id`` (or about a search result that named it)."""
    found = []
    tasks = task_ids or set()
    for event in ledger.events():
        result = event.get("result")
        if isinstance(result, dict) and _names(result, subject_id, result_ids, tasks):
            shown = {key: event.get(key) for key in _SHOWN}
            shown["result"] = {k: v for k, v in result.items()
                               if k in ("subject_id", "result_id", "templates", "images",
                                        "decision", "rule", "match", "candidates", "faces",
                                        "images_kept", "evidence", "task_id", "operation",
                                        "face", "lead", "step", "kind")}
            found.append(shown)
    return found


def erasure_state(held: dict[str, Any], logged: list[dict[str, Any]]) -> dict[str, Any]:
    """``enrolled``, ``erased`` (with the event that erased) or ``not enrolled``."""
    enrolments = [e for e in logged if e["action"] == "enrol"]
    erasures = [e for e in logged if e["action"] in ("erase", "purge")]
    if held["subject"] is not None and held["templates"]:
        return {"state": "enrolled", "since_seq": enrolments[-1]["seq"] if enrolments else None}
    if erasures and (not enrolments or erasures[-1]["seq"] > enrolments[-1]["seq"]):
        return {"state": "erased", "seq": erasures[-1]["seq"], "time": erasures[-1]["time"],
                "by": erasures[-1]["action"]}
    return {"state": "not enrolled"}


def build_subject_export(store: Any, ledger: Ledger, subject_id: str) -> dict[str, Any]:
    """The access-request export of ``subject_id`` (JSON-ready)."""
    held = store.held_about(subject_id)
    result_ids = {c["result_id"] for c in held["candidate_in"]}
    task_ids = {c["task_id"] for c in held["candidate_in"] if c.get("task_id")}
    logged = logged_about(ledger, subject_id, result_ids, task_ids)
    return {"subject_id": subject_id,
            "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "erasure": erasure_state(held, logged), "held": held, "logged": logged}
