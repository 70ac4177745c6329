"""``faceaudit report accountability`` (issue 23): the Washington RCW 43.386.020 accountability
report and EU AI Act Art. 27 impact assessment draft, filled from what the deployment knows —
the numbers are the registered audit's, a home without an audit says so, an altered stored
audit is named and not reported, and the page renders in real Chromium."""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

import audit_evidence
import pytest
from browser import open_in_chromium
from typer.testing import CliRunner

from faceaudit.cli import app
from faceaudit.deployment.accountability import accountability_facts
from faceaudit.deployment.accountability_report import DEPLOYER
from faceaudit.ledger.genesis import init_home

runner = CliRunner()
BACKEND = "dlib-resnet:1"
# odd numbers, so that a match in the text is the audit's and nothing else's
FMR = {"female": 0.0013171, "male": 0.0010493}
FNMR = {"female": 0.018237, "male": 0.016911}
ITEMS = [f"RCW 43.386.020(2)({x})" for x in "abcefgh"] + [
    "RCW 43.386.020(2)(d)(i)", "RCW 43.386.020(2)(d)(ii)", "RCW 43.386.020(2)(d)(v)",
    "RCW 43.386.020(2)(d)(vi)"] + [f"Art. 27(1)({x})" for x in "abcdef"]


def _register(home) -> dict:
    auditor = audit_evidence.Auditor(Path(tempfile.mkdtemp(dir=home.root.parent)))
    auditor.trust(home)
    report = audit_evidence.make_report(fmr=FMR, fnmr=FNMR, spread=0.031)
    auditor.register(home, report)
    return report


def _run(home, out: Path) -> dict:
    result = runner.invoke(app, ["report", "accountability", "--out", str(out), "--home",
                                 str(home.root), "--backend", BACKEND, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def test_the_reports_numbers_are_the_registered_audits(tmp_path: Path) -> None:
    home = init_home(tmp_path / "home")
    report = _register(home)
    summary = _run(home, tmp_path / "out")
    assert sorted(Path(f).name for f in summary["files"]) == ["accountability.html",
                                                              "accountability.md"]
    facts = accountability_facts(home, BACKEND)
    (audit,) = facts["audits"]
    (target,) = audit["targets"]
    assert target["at_policy_point"] and audit["gate_passed"] is True
    registered = {g["group"]: g for g in report["targets"][0]["groups"]}
    for group in target["groups"]:
        for rate in ("fmr", "fnmr"):
            assert group[rate] == registered[group["group"]][rate]  # exactly, with intervals

    md = (tmp_path / "out" / "accountability.md").read_text()
    html = (tmp_path / "out" / "accountability.html").read_text()
    for name, fmr in FMR.items():
        given = registered[name]
        row = (f"| {name} | {_fmt(fmr)} [{_fmt(given['fmr']['low'])}, "
               f"{_fmt(given['fmr']['high'])}] | {_fmt(FNMR[name])} "
               f"[{_fmt(given['fnmr']['low'])}, {_fmt(given['fnmr']['high'])}] |")
        assert row in md, row
        assert f"<td>{_fmt(fmr)} [{_fmt(given['fmr']['low'])}" in html
    assert audit["audit_id"] in md and audit["signer_key_id"] in md
    # the engine: the model file hashes this installation loads
    for model_file in facts["engine"]["model_files"]:
        assert model_file["sha256"] and model_file["sha256"] in md
    assert facts["engine"]["model_sha256"] == report["provenance"]["model_sha256"]
    # every statute item answered cites itself; the deployer's parts are marked headings
    for item in ITEMS:
        assert item in md and item in html, item
    headings = re.findall(rf"^#### {DEPLOYER}: .+$", md, flags=re.M)
    assert len(headings) >= 15
    loose = [line for line in md.splitlines() if DEPLOYER in line and not line.startswith("#")]
    assert len(loose) == 1 and loose[0].startswith("Generated")  # the introduction says so


def test_a_home_without_an_audit_says_none_is_registered(tmp_path: Path) -> None:
    home = init_home(tmp_path / "home")
    _run(home, tmp_path / "out")
    md = (tmp_path / "out" / "accountability.md").read_text()
    assert "none is registered: no measured error rates can be reported" in md
    assert "refused now (no-audit)" in md
    assert "| group |" not in md  # no rates table at all
    assert "none is registered" in (tmp_path / "out" / "accountability.html").read_text()


def test_an_altered_stored_audit_is_named_not_reported(tmp_path: Path) -> None:
    home = init_home(tmp_path / "home")
    _register(home)
    (stored,) = home.audits_dir.glob("*/report.json")
    stored.write_text(stored.read_text().replace(str(FMR["female"]), "0.0001"))
    facts = accountability_facts(home, BACKEND)
    assert facts["audits"] == [] and "differs from the one registered" in \
        facts["audit_problems"][0]
    _run(home, tmp_path / "out")
    md = (tmp_path / "out" / "accountability.md").read_text()
    assert "**audit not readable**" in md and _fmt(0.0001) + " [" not in md


def test_the_page_renders_in_chromium_and_fits_1280_px(tmp_path: Path) -> None:
    home = init_home(tmp_path / "home")
    _register(home)
    _run(home, tmp_path / "out")
    page = tmp_path / "out" / "accountability.html"
    dom, console = open_in_chromium(page.resolve().as_uri(), tmp_path / "profile",
                                    "--dump-dom")
    assert console == []
    assert "<h2>Washington RCW 43.386.020 accountability report</h2>" in dom
    assert "<h2>EU AI Act Art. 27 fundamental rights impact assessment (draft)</h2>" in dom
    assert dom.count('class="deployer"') >= 15
    width = measure_width(page, tmp_path)
    assert width["scroll"] <= width["client"], width


def measure_width(page: Path, tmp_path: Path) -> dict:
    """The page's scrollWidth and clientWidth in a 1280 px wide Chromium window (a copy of the
    page with a measuring script and its CSP relaxed to run it)."""
    text = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "",
                  page.read_text(encoding="utf-8"))
    probe = ("<script>const e=document.documentElement;document.body.setAttribute("
             "'data-width',e.scrollWidth+' '+e.clientWidth)</script></body>")
    copy = tmp_path / f"measured-{page.name}"
    copy.write_text(text.replace("</body>", probe), encoding="utf-8")
    dom, console = open_in_chromium(copy.resolve().as_uri(), tmp_path / "profile-w",
                                    "--window-size=1280,900", "--dump-dom")
    found = re.search(r'data-width="(\d+) (\d+)"', dom)
    if found is None:
        pytest.fail(f"the measuring script did not run: {console}")
    return {"scroll": int(found[1]), "client": int(found[2])}


def test_an_identification_audit_reports_its_fpir_and_fnir(tmp_path: Path) -> None:
    home = init_home(tmp_path / "home")
    auditor = audit_evidence.Auditor(Path(tempfile.mkdtemp(dir=home.root.parent)))
    auditor.trust(home)
    auditor.register(home, audit_evidence.make_report())
    report = audit_evidence.make_identification_report(
        fpir={"female": (137, 1000), "male": (113, 1000)},
        fnir={"female": (29, 1000), "male": (23, 1000)})
    auditor.register(home, report)
    facts = accountability_facts(home, BACKEND)
    (one_to_n,) = [a for a in facts["audits"] if a["mode"] == "identification"]
    (point,) = one_to_n["identification"]
    given = {g["group"]: g for g in report["identification"]["operating_points"][0]["groups"]}
    for group in point["groups"]:
        assert group["fpir"] == given[group["group"]]["fpir"]
        assert group["fnir"] == given[group["group"]]["fnir"]
    _run(home, tmp_path / "out")
    md = (tmp_path / "out" / "accountability.md").read_text()
    assert "FPIR [interval]" in md
    for name, (errors, searches) in {"female": (137, 1000), "male": (113, 1000)}.items():
        assert f"| {name} | {_fmt(errors / searches)} [" in md


def test_intersectional_group_names_keep_the_markdown_table_whole(tmp_path: Path) -> None:
    home = init_home(tmp_path / "home")
    auditor = audit_evidence.Auditor(Path(tempfile.mkdtemp(dir=home.root.parent)))
    auditor.trust(home)
    auditor.register(home, audit_evidence.make_report(
        fmr={"female|black": 0.0012, "male|white": 0.001},
        fnmr={"female|black": 0.011, "male|white": 0.01}))
    _run(home, tmp_path / "out")
    md = (tmp_path / "out" / "accountability.md").read_text()
    rows = [line for line in md.splitlines() if line.startswith("| female")]
    assert rows and all(line.startswith("| female\\|black | ") for line in rows)
    header = next(line for line in md.splitlines() if line.startswith("| group |"))
    assert all(line.replace("\\|", "").count("|") == header.count("|") for line in rows)


def test_no_label_or_cell_is_wider_than_its_box(tmp_path: Path) -> None:
    """At 1280 px every row label (a model file's name is one long word), value, caption and
    table cell wraps inside its own box instead of running into the next column."""
    from browser import overflowing

    home = init_home(tmp_path / "home")
    _register(home)
    _run(home, tmp_path / "out")
    html = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "",
                  (tmp_path / "out" / "accountability.html").read_text(encoding="utf-8"))
    assert overflowing(html, tmp_path / "wide", "dt, dd, caption, th, td") == []
