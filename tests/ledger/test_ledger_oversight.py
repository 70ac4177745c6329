import csv
import json
from datetime import UTC, datetime, timedelta

import pytest

from faceaudit.base.home import Home
from faceaudit.ledger import Ledger
from faceaudit.ledger.oversight import build_oversight, write_oversight
from faceaudit.ledger.oversight_counts import tally_events
from faceaudit.policy import Policy, PolicyRefusal, enforce


@pytest.fixture
def ledger(tmp_path):
    home = Home(tmp_path / "home")
    led = Ledger(home)
    ident = {"backend_id": "dlib-resnet:1", "threshold": 0.61}
    for rid, n, case in (("r1", 2, "A"), ("r2", 3, "A"), ("r3", 0, "A")):
        led.append("alice", "identify", purpose="burglary", case=case, **ident,
                   result={"result_id": rid, "candidates": n, "faces": 1})
    led.append("bob", "identify", purpose="missing person", case="B", **ident,
               result={"result_id": "r4", "candidates": 5, "faces": 2})
    led.append("bob", "verify", purpose="missing person", case="B", backend_id="other:2",
               result={"match": True})
    led.append("carol", "review", result={"result_id": "r1", "decision": "confirm"})
    led.append("carol", "review", result={"result_id": "r2", "decision": "reject"})
    led.append("admin", "erase", purpose="subject request", result={"subject_id": "s9",
                                                                    "templates": 2})
    led.append("admin", "purge", result={"subjects": 3})
    led.append("auditor", "audit", backend_id="dlib-resnet:1",
               result={"audit_id": "abc", "created_at": "2025-01-31T12:00:00+00:00",
                       "gate_passed": True, "gate_rule": None})
    for purpose in (None, "x"):
        with pytest.raises(PolicyRefusal):
            enforce(Policy(), led, home, operation="identify", actor="mallory",
                    purpose=purpose, case=None, backend_id="dlib-resnet:1")
    return led


def _period():
    now = datetime.now(UTC)
    return now - timedelta(hours=1), now + timedelta(hours=1)


def test_oversight_counts(ledger):
    r = build_oversight(ledger, *_period())
    assert r["ledger"]["ok"]
    by_actor = {row["actor"]: row for row in r["searches_by_actor"]}
    assert by_actor["alice"] == {"actor": "alice", "identify": 3, "verify": 0, "candidates": 5}
    assert by_actor["bob"] == {"actor": "bob", "identify": 1, "verify": 1, "candidates": 5}
    by_case = {row["case"]: row["identify"] for row in r["searches_by_case"]}
    assert by_case == {"A": 3, "B": 1}
    by_purpose = {row["purpose"]: row["verify"] for row in r["searches_by_purpose"]}
    assert by_purpose == {"burglary": 0, "missing person": 1}
    assert r["candidates"] == {"total": 10, "max": 5, "identifications": 4}
    reviews = r["reviews"]
    assert (reviews["confirmed"], reviews["rejected"], reviews["pending"]) == (1, 1, 2)
    outcome = {row["result_id"]: row["outcome"] for row in reviews["rows"]}
    assert outcome == {"r1": "confirmed", "r2": "rejected", "r3": "pending", "r4": "pending"}
    assert [e["action"] for e in r["erasures"]] == ["erase", "purge"]
    assert len(r["refusals"]) == 2 and r["refusals_by_rule"] == {"required-field": 2}
    assert all(row["actor"] == "mallory" for row in r["refusals"])
    assert r["backends_used"] == ["dlib-resnet:1", "other:2"]
    assert [a["audit_id"] for a in r["audits"]] == ["abc"]
    assert r["unaudited_backends"] == ["other:2"]
    json.dumps(r)  # serialisable as is, for the service


def test_reviews_after_the_period_leave_results_pending(ledger):
    start, _ = _period()
    first_review = next(e for e in ledger.events() if e["action"] == "review")
    end = datetime.fromisoformat(first_review["time"])
    r = build_oversight(ledger, start, end)
    assert r["reviews"]["pending"] == 4 and r["reviews"]["confirmed"] == 0


def test_period_without_events_is_empty(ledger):
    start = datetime.now(UTC) - timedelta(days=30)
    r = build_oversight(ledger, start, start + timedelta(days=1))
    assert r["searches"] == [] and r["refusals"] == [] and r["reviews"]["rows"] == []
    assert r["candidates"]["total"] == 0


def test_write_oversight_html_json_and_csv(ledger, tmp_path):
    paths = write_oversight(build_oversight(ledger, *_period()), tmp_path / "out")
    names = {p.name for p in paths}
    assert {"oversight.html", "oversight.json", "searches.csv", "reviews.csv", "refusals.csv",
            "erasures.csv", "audits.csv"} <= names
    html = (tmp_path / "out" / "oversight.html").read_text()
    assert "pending" in html and "mallory" in html and "Never audited: other:2" in html
    with open(tmp_path / "out" / "reviews.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert sorted(r["outcome"] for r in rows) == ["confirmed", "pending", "pending", "rejected"]


def test_html_escapes_event_text(tmp_path):
    led = Ledger(Home(tmp_path / "h"))
    led.append("<script>alert(1)</script>", "identify", purpose="p", case="c",
               result={"result_id": "r", "candidates": 1})
    now = datetime.now(UTC)
    write_oversight(build_oversight(led, now - timedelta(hours=1), now + timedelta(hours=1)),
                    tmp_path / "o")
    html = (tmp_path / "o" / "oversight.html").read_text()
    assert "<script>alert" not in html and "&lt;script&gt;" in html


def _event(seq, action, time, actor="a", backend_id=None, **result):
    return {"seq": seq, "time": time, "actor": actor, "action": action, "purpose": "p",
            "case": "c", "backend_id": backend_id, "result": result or None}


def test_tally_events_is_plain_events_in_counts_and_rows_out():
    events = [
        _event(1, "audit", "2025-01-01T00:00:00+00:00", backend_id="m:1", audit_id="old"),
        _event(2, "identify", "2025-01-01T00:00:00+00:00", backend_id="m:1",
               result_id="r0", candidates=9),
        _event(3, "identify", "2025-02-01T00:00:00+00:00", backend_id="m:1",
               result_id="r1", candidates=2),
        _event(4, "identify", "2025-02-02T00:00:00+00:00", actor="b", backend_id="n:1",
               result_id="r2", candidates=True),
        _event(5, "review", "2025-02-03T00:00:00+00:00", actor="r", result_id="r1",
               decision="Confirmed"),
        _event(6, "review", "2025-02-03T00:00:00+00:00", actor="r", result_id="r0",
               decision="reject"),
    ]
    counts = tally_events(events, datetime(2025, 2, 1, tzinfo=UTC))
    assert counts["events_by_action"] == {"identify": 2, "review": 2}
    assert [(r["actor"], r["identify"], r["candidates"]) for r in counts["searches"]] == [
        ("a", 1, 2), ("b", 1, 0)]  # a boolean is no count of candidates
    assert [(r["result_id"], r["outcome"], r["reviewer"]) for r in counts["reviews"]["rows"]] == [
        ("r1", "confirmed", "r"), ("r2", "pending", None)]  # r0 was before the period
    assert counts["candidates"] == {"total": 2, "max": 2, "identifications": 2}
    assert [a["audit_id"] for a in counts["audits"]] == ["old"]  # registered before, listed
    assert counts["backends_used"] == ["m:1", "n:1"] and counts["unaudited_backends"] == ["n:1"]
    assert tally_events([], datetime(2025, 2, 1, tzinfo=UTC))["searches"] == []
