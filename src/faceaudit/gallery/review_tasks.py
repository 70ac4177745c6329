"""Per-candidate review tasks: one task per (face, candidate) of a stored result, the
reviewers' decisions on it, and what was done with a confirmed lead.

The SQL is written once, in the subset SQLite and PostgreSQL share, over a
:class:`~faceaudit.gallery.storage.Transaction`; :class:`~faceaudit.gallery.store.GalleryStore`
calls it inside its own transactions. :func:`lead_state` is the one rule that turns the
decisions on a task into its state (arrays in, verdict out: no I/O).

Task ids are random, so that neither their value nor their order tells a blind reviewer a
candidate's rank.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Sequence
from typing import Any

from faceaudit.gallery.errors import AlreadyDecidedError, UnknownReviewTaskError
from faceaudit.gallery.storage import Transaction

DECISION_KEYS = ("reviewer", "decision", "actor", "note", "created_at")
LEAD_KEYS = ("step", "kind", "evidence", "recorded_by", "actor", "created_at")
#: the steps of a confirmed lead's record: what was done on it, then how it ended
LEAD_STEPS = ("action", "outcome")
#: the tables of review tasks, children first (the order a deletion takes)
TABLES = ("lead_records", "review_decisions", "review_tasks")


def new_task_id() -> str:
    """A fresh, random task id (24 hex digits)."""
    return secrets.token_hex(12)


def lead_state(decisions: Sequence[dict[str, Any]], required: int) -> dict[str, Any]:
    """The state of one candidate from its reviewers' ``decisions``: ``confirmed`` once
    ``required`` reviewers confirmed and none rejected; ``unconfirmed`` as soon as one
    rejected (with ``disagreement`` when another confirmed); else ``pending``."""
    confirms = sum(d["decision"] == "confirm" for d in decisions)
    rejects = sum(d["decision"] == "reject" for d in decisions)
    if rejects:
        state = "unconfirmed"
    elif confirms >= required:
        state = "confirmed"
    else:
        state = "pending"
    return {"state": state, "confirms": confirms, "rejects": rejects,
            "disagreement": bool(confirms and rejects), "required": required}


def insert_tasks(tx: Transaction, result_id: str, faces: list[dict[str, Any]],
                 created_at: str) -> list[str]:
    """Create one task per (face, candidate) of a result; a face without candidates gets
    none. ``created_at`` (to the microsecond) orders the tasks, oldest first. Returns the new
    task ids."""
    rows = [(new_task_id(), result_id, face_index, candidate_index, created_at)
            for face_index, face in enumerate(faces)
            for candidate_index in range(len(face["candidates"]))]
    tx.executemany("INSERT INTO review_tasks(task_id, result_id, face_index, candidate_index, "
                   "created_at) VALUES (?, ?, ?, ?, ?)", rows)
    return [row[0] for row in rows]


_TASK_SQL = (
    "SELECT t.task_id, t.result_id, t.face_index, t.candidate_index, t.created_at, r.actor, "
    "r.purpose, r.case_id, r.backend_id, r.faces FROM review_tasks t "
    "JOIN results r ON r.result_id = t.result_id "
)


def task_rows(tx: Transaction, *, task_id: str | None = None, result_id: str | None = None,
              include_held: bool = False) -> list[dict[str, Any]]:
    """The tasks (all, one by id, or those of one result), oldest result first, each with its
    candidate as stored, its decisions and its lead records. Tasks of held results are left
    out unless ``include_held``."""
    where, params = [], []
    if task_id is not None:
        where.append("t.task_id = ?")
        params.append(task_id)
    if result_id is not None:
        where.append("t.result_id = ?")
        params.append(result_id)
    if not include_held:
        where.append("t.result_id NOT IN (SELECT result_id FROM holds)")
    sql = _TASK_SQL + ("WHERE " + " AND ".join(where) + " " if where else "")
    rows = tx.execute(sql + "ORDER BY t.created_at, t.result_id, t.task_id", params).fetchall()
    decisions = _children(tx, "review_decisions", DECISION_KEYS, [r[0] for r in rows])
    leads = _children(tx, "lead_records", LEAD_KEYS, [r[0] for r in rows])
    faces_of: dict[str, list[dict[str, Any]]] = {}
    out = []
    for tid, rid, face, index, created, searcher, purpose, case, backend, faces_json in rows:
        faces = faces_of.setdefault(rid, json.loads(faces_json))
        out.append({"task_id": tid, "result_id": rid, "face": int(face),
                    "candidate": dict(faces[int(face)]["candidates"][int(index)]),
                    "created_at": created, "searcher": searcher, "purpose": purpose,
                    "case": case, "backend_id": backend,
                    "decisions": decisions.get(tid, []), "lead_records": leads.get(tid, [])})
    return out


def _children(tx: Transaction, table: str, keys: tuple[str, ...],
              task_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """The rows of ``table`` for ``task_ids``, by task, oldest first."""
    out: dict[str, list[dict[str, Any]]] = {}
    wanted = set(task_ids)
    if not wanted:
        return out
    order = "record_id" if table == "lead_records" else "created_at, reviewer"
    for row in tx.execute(f"SELECT task_id, {', '.join(keys)} FROM {table} "
                          f"ORDER BY {order}").fetchall():
        if row[0] in wanted:
            out.setdefault(row[0], []).append(dict(zip(keys, row[1:], strict=True)))
    return out


def one_task(tx: Transaction, task_id: str) -> dict[str, Any]:
    """The task ``task_id`` (held results included), or :class:`UnknownReviewTaskError`."""
    found = task_rows(tx, task_id=task_id, include_held=True)
    if not found:
        raise UnknownReviewTaskError(f"no review task {task_id!r}")
    return found[0]


def insert_decision(tx: Transaction, task_id: str, *, decision: str, reviewer: str,
                    actor: str, note: str | None, created_at: str,
                    limit: int | None = None) -> None:
    """Record ``reviewer``'s decision on a task; a second one by the same reviewer, or one
    past ``limit`` decisions on the task, is refused (:class:`AlreadyDecidedError`) — checked
    in the write transaction, so two reviewers racing cannot both pass."""
    if tx.execute("SELECT 1 FROM review_decisions WHERE task_id = ? AND reviewer = ?",
                  (task_id, reviewer)).fetchone() is not None:
        raise AlreadyDecidedError(f"{reviewer} already decided review task {task_id}")
    if limit is not None:
        (count,) = tx.execute("SELECT count(*) FROM review_decisions WHERE task_id = ?",
                              (task_id,)).fetchone()
        if int(count) >= limit:
            raise AlreadyDecidedError(f"review task {task_id} already has its {limit} "
                                      "decisions")
    tx.execute("INSERT INTO review_decisions(task_id, reviewer, decision, actor, note, "
               "created_at) VALUES (?, ?, ?, ?, ?, ?)",
               (task_id, reviewer, decision, actor, note, created_at))


def backfill(tx: Transaction, created_at: str) -> int:
    """Create the tasks of results stored before per-candidate review (homes of an older
    version); return how many were created."""
    rows = tx.execute("SELECT result_id, faces FROM results WHERE result_id NOT IN "
                      "(SELECT result_id FROM review_tasks) ORDER BY created_at").fetchall()
    return sum(len(insert_tasks(tx, rid, json.loads(faces), created_at)) for rid, faces in rows)


def insert_lead_record(tx: Transaction, task_id: str, *, step: str, kind: str,
                       evidence: str | None, recorded_by: str, actor: str,
                       created_at: str) -> None:
    """Record what was done with a lead (``step`` ``action``) or how it ended (``outcome``)."""
    if step not in LEAD_STEPS:
        raise ValueError(f"lead step must be one of {LEAD_STEPS}, not {step!r}")
    tx.execute("INSERT INTO lead_records(task_id, step, kind, evidence, recorded_by, actor, "
               "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
               (task_id, step, kind, evidence, recorded_by, actor, created_at))


def delete_for_result(tx: Transaction, result_id: str) -> None:
    """Delete every task of a result with its decisions and lead records."""
    of_result = "task_id IN (SELECT task_id FROM review_tasks WHERE result_id = ?)"
    for table in TABLES[:-1]:
        tx.execute(f"DELETE FROM {table} WHERE {of_result}", (result_id,))
    tx.execute("DELETE FROM review_tasks WHERE result_id = ?", (result_id,))


def scrub_texts(tx: Transaction, contains: Callable[[str], str], naming_results: str,
                subject_id: str, needle: str) -> None:
    """Drop the free text on tasks that may say who an erased subject was: the reviewers'
    notes on results that named the subject (``naming_results``: a condition on ``results``
    taking ``needle``) and any note or evidence reference naming the subject (``contains``:
    the storage's substring condition on a column, taking ``subject_id``)."""
    of_results = ("task_id IN (SELECT task_id FROM review_tasks WHERE result_id IN "
                  f"(SELECT result_id FROM results WHERE {naming_results}))")
    note = contains("note")
    tx.execute(f"UPDATE review_decisions SET note = NULL WHERE note IS NOT NULL AND "
               f"({note} OR {of_results})", (subject_id, needle))
    evidence = contains("evidence")
    tx.execute(f"UPDATE lead_records SET evidence = '[erased]' WHERE evidence IS NOT NULL "
               f"AND {evidence}", (subject_id,))
