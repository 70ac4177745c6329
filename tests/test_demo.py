"""`make demo` on a bare machine: the tour runs on the bundled photos and a synthetic vendor table
alone (no ../shared, no LFW) and every step leaves its output in demo-out/."""

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_bare_machine_tour(tmp_path):
    out = tmp_path / "demo-out"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACEAUDIT_")}
    env["FACEAUDIT_CACHE"] = str(tmp_path / "cache")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "src"),
                                                      os.environ.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "demo.py"), "--out", str(out), "--no-lfw"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600, check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stdout.splitlines()
    assert any("SYNTHETIC" in line for line in lines)
    assert any("refused (exit 5)" in line and "identify" in line for line in lines)
    assert "Ran: the bare-machine tour only: --no-lfw skipped the LFW audit" in done.stdout
    assert done.stdout.count("Ran: ") == 1  # the closing line once, not a recap
    assert "was not found" not in done.stdout  # --no-lfw says it skipped LFW, found or not

    for name in ["detect.json", "embeddings.parquet", "verify.json", "identify.json",
                 "synthetic-audit/report.json", "synthetic-audit/report.html",
                 "synthetic-audit/report.json.sig", "ledger-export.jsonl",
                 "oversight/oversight.html", "signed-tree-head.json", "ledger-verify.txt",
                 "case-DEMO-1/case.json", "case-DEMO-1/case.html",
                 "accountability/accountability.html", "accountability/accountability.md",
                 "transparency/transparency.html", "transparency/transparency.json"]:
        assert (out / name).is_file(), name
    assert json.loads((out / "verify.json").read_text())["match"] is True
    leads = json.loads((out / "identify.json").read_text())
    assert any(c["subject_id"] == "s-obama" for f in leads["faces"] for c in f["candidates"])

    assert any("case verify with the public key alone: intact" in line for line in lines)
    accountability = (out / "accountability" / "accountability.md").read_text()
    assert "GATE WAIVED" in accountability  # the demo home runs under a waiver, said out loud
    actions = [json.loads(line)["action"]
               for line in (out / "ledger-export.jsonl").read_text().splitlines()]
    for action in ["enrol", "refused", "policy_change", "identify", "review", "erase"]:
        assert action in actions, action

    # The synthetic audit recovers the generator's own per-group rates within its intervals.
    compared = json.loads((out / "synthetic" / "generator-vs-measured.json").read_text())
    assert compared["synthetic"] is True and len(compared["rows"]) == 2
    for row in compared["rows"]:
        assert row["fmr_ci"][0] <= row["true_fmr"] <= row["fmr_ci"][1], row
        assert row["fnmr_ci"][0] <= row["true_fnmr"] <= row["fnmr_ci"][1], row
