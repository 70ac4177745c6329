"""Urgent searches: results held until an authorisation is recorded, deleted when refused or late.

An ``identify`` whose authorisation is of kind ``urgent`` runs before the authority decides
(EU AI Act Art. 5(3), Art. 26(10): within 48 hours). Its result is stored with a deadline and
held: not shown, not reviewable. :func:`record_decision` logs the authority's decision
(``authorisation`` event): granted releases the result; refused deletes it. :func:`sweep`
deletes every held result whose deadline has passed. A deletion removes the result's boxes,
candidate lists, scores and reviews from every file (compacted like an erasure) and is logged
as an ``outputs_deleted`` event that flags the case.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from faceaudit.deployment.oplog import OperationLog, check_events, event
from faceaudit.gallery.errors import InvalidRequestError
from faceaudit.gallery.store import GalleryStore
from faceaudit.policy.authorisation import Authorisation

DECISIONS = ("granted", "refused")


def record_decision(store: GalleryStore, oplog: OperationLog, *, actor: str, result_id: str,
                    decision: str, authorisation: Authorisation) -> dict[str, Any]:
    """Record the authority's decision on a held urgent search: ``granted`` releases its
    result, ``refused`` deletes what it produced. Returns ``{"result_id", "decision",
    "deleted"}``."""
    if decision not in DECISIONS:
        raise InvalidRequestError(f"decision must be granted or refused, not {decision!r}")
    stored = store.get_result(result_id)
    if stored["held_until"] is None:
        raise InvalidRequestError(f"result {result_id} is not held: only an urgent search "
                                  "waits for its authorisation")
    if decision == "granted" and not (authorisation.reference and authorisation.authority):
        raise InvalidRequestError("a granted authorisation needs its reference and authority "
                                  "(--reference, --authority)")
    record = {"result_id": result_id, "decision": decision,
              "authorisation": authorisation.to_record()}
    check_events([event(actor, "authorisation", case=stored["case"], result=record)])
    if decision == "refused":
        oplog.ledger.append(actor, "authorisation", case=stored["case"], result=record)
        deleted = _delete(store, oplog, actor, [stored], "authorisation-refused")
        return {"result_id": result_id, "decision": decision, "deleted": deleted}
    oplog.run("authorisation", actor=actor, case=stored["case"],
              write=lambda intent: store.release_hold(result_id, intent=intent),
              outcome=lambda _: [event(actor, "authorisation", case=stored["case"],
                                       result=record)],
              preview=stored)
    return {"result_id": result_id, "decision": decision, "deleted": []}


def sweep(store: GalleryStore, oplog: OperationLog, *, actor: str, now: datetime
          ) -> list[str]:
    """Delete the outputs of every held search whose deadline is at or before ``now``;
    return their result ids."""
    late = [store.get_result(h["result_id"]) for h in store.held_results()
            if datetime.fromisoformat(h["deadline"]) <= now]
    return _delete(store, oplog, actor, late, "authorisation-deadline-passed") if late else []


def _delete(store: GalleryStore, oplog: OperationLog, actor: str,
            results: list[dict[str, Any]], reason: str) -> list[str]:
    ids = [r["result_id"] for r in results]
    cases = sorted({r["case"] or "" for r in results})

    def events(deleted: list[str]) -> list[dict[str, Any]]:
        return [event(actor, "outputs_deleted", case=case or None, result={
            "result_ids": [r["result_id"] for r in results
                           if (r["case"] or "") == case and r["result_id"] in deleted],
            "reason": reason, "case_flagged": True}) for case in cases]

    deleted, _ = oplog.run("outputs_deleted", actor=actor,
                           write=lambda intent: store.delete_search_outputs(ids, intent=intent),
                           outcome=events, preview=ids)
    return deleted
