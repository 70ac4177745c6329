"""The oversight report's tables fit the page (issue 23): at a 1280 px wide window, in real
headless Chromium, neither the page nor any table scrolls sideways — with every column of a
realistic search row filled (digests, times, authorisations, long purposes)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from browser import open_in_chromium

from faceaudit.base.home import Home
from faceaudit.ledger import Ledger
from faceaudit.ledger.oversight import build_oversight, write_oversight

HEX = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"


def _busy_ledger(home: Home) -> Ledger:
    led = Ledger(home)
    now = datetime.now(UTC).isoformat()
    for n in range(3):
        use = {"started_at": now, "ended_at": now, "probe_sha256": HEX, "faces_found": 2,
               "reference_database": {"templates": 123456, "state_digest": HEX},
               "authorisation": {"reference": f"WARRANT-2026-{n:06d}-COUNTY-SUPERIOR-COURT",
                                 "kind": "judicial", "authority": "Superior Court of Exampleshire"},
               "offence": "aggravated robbery with a weapon"}
        led.append("detective.alexandra.longname", "identify",
                   purpose="investigation of a series of armed robberies in the north district",
                   case=f"CASE-2026-000{n}-NORTH", backend_id="dlib-resnet:1",
                   result={"result_id": f"{HEX[:24]}{n}", "candidates": 10, "faces": 2,
                           "use": use, "gate": {"passed": True, "audit_seq": 1}})
        led.append("reviewer.bartholomew", "review",
                   result={"result_id": f"{HEX[:24]}{n}", "decision": "confirm"})
        task = {"task_id": f"{HEX[:30]}-{n}", "result_id": f"{HEX[:24]}{n}", "face": 0}
        for reviewer in ("reviewer.bartholomew", "reviewer.constantina"):
            led.append(reviewer, "review", case=f"CASE-2026-000{n}-NORTH",
                       result={**task, "decision": "confirm", "lead": "confirmed",
                               "confirms": 2, "rejects": 0, "disagreement": False})
        led.append("detective.alexandra.longname", "lead", case=f"CASE-2026-000{n}-NORTH",
                   result={**task, "step": "action", "kind": "interview",
                           "evidence_sha256": HEX, "recorded_by": "Det. Sgt. Alexandra Long"})
        led.append("detective.alexandra.longname", "lead", case=f"CASE-2026-000{n}-NORTH",
                   result={**task, "step": "outcome", "kind": "no-further-action"})
    led.append("admin", "erase", purpose="subject request under GDPR Art. 17",
               result={"subject_id": "s-" + HEX[:30], "templates": 2})
    led.append("admin", "policy_change", result={"sha256": HEX, "previous_sha256": HEX})
    led.append("auditor", "audit", backend_id="dlib-resnet:1",
               result={"audit_id": HEX[:16], "created_at": now, "gate_passed": True,
                       "gate_rule": None})
    return led


def table_widths(page: Path, tmp_path: Path, window: int = 1280) -> dict:
    """The page's and every table's (scrollWidth, clientWidth) in a ``window`` px wide
    Chromium window (a copy of the page carrying a measuring script)."""
    text = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "",
                  page.read_text(encoding="utf-8"))
    probe = ("<script>const e=document.documentElement;const w={page:[e.scrollWidth,"
             "e.clientWidth],tables:[...document.querySelectorAll('table')].map(t=>"
             "[t.scrollWidth,t.clientWidth,t.getBoundingClientRect().right])};"
             "document.body.setAttribute('data-widths',JSON.stringify(w))</script></body>")
    copy = tmp_path / f"measured-{page.name}"
    copy.write_text(text.replace("</body>", probe), encoding="utf-8")
    dom, console = open_in_chromium(copy.resolve().as_uri(), tmp_path / "profile-w",
                                    f"--window-size={window},900", "--dump-dom")
    found = re.search(r'data-widths="([^"]*)"', dom)
    if found is None:
        pytest.fail(f"the measuring script did not run: {console}")
    return json.loads(found[1].replace("&quot;", '"'))


def test_the_oversight_tables_fit_1280_px(tmp_path: Path) -> None:
    led = _busy_ledger(Home(tmp_path / "home"))
    now = datetime.now(UTC)
    write_oversight(build_oversight(led, now - timedelta(hours=1), now + timedelta(hours=1)),
                    tmp_path / "out")
    widths = table_widths(tmp_path / "out" / "oversight.html", tmp_path)
    scroll, client = widths["page"]
    assert scroll <= client, widths["tables"]
    assert len(widths["tables"]) >= 10, "a table is missing"
    for n, (t_scroll, t_client, right) in enumerate(widths["tables"]):
        assert t_scroll <= t_client + 1 and right <= client + 1, (n, widths["tables"])


def test_the_measure_sees_a_table_that_does_not_fit(tmp_path: Path) -> None:
    """Negative control: an unbreakable row wider than the window is caught."""
    page = tmp_path / "wide.html"
    page.write_text("<!doctype html><title>w</title><body><table><tr><td>" + "x" * 400
                    + "</td></tr></table></body>", encoding="utf-8")
    widths = table_widths(page, tmp_path)
    assert widths["page"][0] > widths["page"][1] or widths["tables"][0][2] > widths["page"][1]
