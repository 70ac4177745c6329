"""``faceaudit report transparency`` on a home built by the real operations (issue 23): a
handful of searches, reviews, a lead actioned and closed, a refusal and an erasure, counted as
by hand; with the default k every small count is hidden, none recoverable; the files and the
templates; bad dates and unknown templates are one-line errors, exit 2."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import audit_evidence
import pytest
from browser import open_in_chromium
from typer.testing import CliRunner

from faceaudit.cli import app
from faceaudit.deployment.operations import Deployment
from faceaudit.deployment.reviews import TaskRef
from faceaudit.deployment.transparency import TransparencyRequestError, build_transparency
from faceaudit.ledger import Ledger
from faceaudit.ledger.genesis import init_home
from faceaudit.ledger.transparency_templates import TEMPLATES
from faceaudit.policy import install_policy
from faceaudit.policy.errors import PolicyRefusal

runner = CliRunner()
THIS_YEAR = datetime.now(UTC).year
OFFENCES = '[authorisation]\noffences = ["homicide", "robbery", "kidnapping"]\n'


def _set_k(home, k: int) -> None:
    """Install the home's policy again with ``[transparency] k`` (a logged policy change)."""
    text = home.policy_path.read_text(encoding="utf-8")
    text = text.split("[transparency]")[0].split("[authorisation]")[0]
    path = home.root.parent / f"policy-k{k}.toml"
    path.write_text(f"{text}\n{OFFENCES}\n[transparency]\nk = {k}\n", encoding="utf-8")
    install_policy(home, Ledger(home), path, "admin")


@pytest.fixture(scope="module")
def scripted(tmp_path_factory, mdtf):
    """The home and the script's own count of what it did (the shipped calibration)."""
    root = tmp_path_factory.mktemp("transparency")
    home = init_home(root / "home")
    audit_evidence.register_passing_audit(home)
    _set_k(home, 1)
    deployment = Deployment(home)
    for subject, image in (("s-1", "1.png"), ("s-3", "3.png")):
        deployment.enrol(actor="clerk", subject_id=subject, images=[mdtf / image],
                         basis="consent", evidence=f"form-{subject}")
    robbery = deployment.identify(actor="alice", image=mdtf / "2.png", purpose="investigation",
                                  case="C-1", offence="robbery")
    none = deployment.identify(actor="alice", image=mdtf / "5.png", purpose="investigation",
                               case="C-2", offence="homicide")
    missing = deployment.identify(actor="bob", image=mdtf / "4.png", purpose="missing person",
                                  case="C-3")
    counts = [sum(len(f["candidates"]) for f in r["faces"]) for r in (robbery, none, missing)]
    assert counts[0] >= 1 and counts[1] == 0 and counts[2] >= 1, counts
    task = deployment.get_result(robbery["result_id"])["tasks"][0]["task_id"]
    for reviewer in ("rev-a", "rev-b"):
        deployment.review(actor=reviewer, ref=TaskRef(task_id=task), decision="confirm")
    deployment.lead_action(actor="det", ref=TaskRef(task_id=task), kind="arrest",
                           evidence="independent witness statement 12", by="Det. Bo")
    deployment.lead_outcome(actor="det", ref=TaskRef(task_id=task), outcome="charged",
                            by="Det. Bo")
    other = deployment.get_result(missing["result_id"])["tasks"][0]["task_id"]
    deployment.review(actor="rev-a", ref=TaskRef(task_id=other), decision="reject")
    with pytest.raises(PolicyRefusal):
        deployment.identify(actor="bob", image=mdtf / "4.png", purpose="investigation",
                            case=None)
    deployment.erase(actor="dpo", subject_id="s-3")
    return home, counts


def _band(n: int) -> str:
    return str(n) if n <= 2 else "3 to 5" if n <= 5 else "6 to 10" if n <= 10 else \
        "more than 10"


def _year(home, **kw):
    return build_transparency(home, datetime(THIS_YEAR, 1, 1, tzinfo=UTC),
                              datetime(THIS_YEAR + 1, 1, 1, tzinfo=UTC), unit="year", **kw)


def _rows(report) -> dict[tuple[str, str], object]:
    """(table, row) → the published total of the row (one column: the year)."""
    out: dict[tuple[str, str], object] = {}
    for table in report["tables"]:
        for row in table["rows"]:
            out[(table["name"], row["label"])] = row["total"]
        if table["totals"]:
            out[(table["name"], "ALL")] = table["totals"]["total"]
    return out


def test_the_counts_are_what_the_script_did(scripted) -> None:
    home, counts = scripted
    report = _year(home)
    assert report["suppression"]["k"] == 1
    assert report["suppression"]["primary"] == report["suppression"]["complementary"] == 0
    rows = _rows(report)
    bands: dict[str, int] = {}
    for n in counts:
        if n:
            bands[_band(n)] = bands.get(_band(n), 0) + 1
    expected = {
        ("searches_by_offence", "robbery"): 1, ("searches_by_offence", "homicide"): 1,
        ("searches_by_offence", "kidnapping"): 0, ("searches_by_offence", "not recorded"): 1,
        ("searches_by_offence", "ALL"): 3,
        ("searches_by_purpose", "investigation"): 2,
        ("searches_by_purpose", "missing person"): 1,
        ("searches_by_result", "with 1 or more candidates"): 2,
        ("searches_by_result", "with no candidate"): 1,
        ("searches_by_gate", "gate passed"): 3, ("searches_by_authorisation", "none"): 3,
        ("leads", "confirmed leads"): 1, ("lead_actions", "arrest"): 1,
        ("lead_outcomes", "charged"): 1, ("refusals_by_rule", "required-field"): 1,
        ("erasures", "subject erasures"): 1, ("verifications", "1:1 verifications"): 0,
        **{("searches_by_candidates", band): n for band, n in bands.items()},
    }
    for key, value in expected.items():
        assert rows[key] == value, key
    assert {k for k, v in rows.items() if v and k[1] != "ALL"} == {
        k for k, v in expected.items() if v and k[1] != "ALL"}
    refusal = next(t for t in report["tables"] if t["name"] == "refusals_by_rule")["rows"][0]
    assert refusal["class"] == "unauthorised use"
    [audits] = [p["audits"] for p in report["audits_in_force"]]
    assert audits and audits[0]["backend_id"] == "dlib-resnet:1"
    assert audits[0]["passes_policy_now"] is True
    assert set(audits[0]["ratios"]) == {"fmr_ratio", "fnmr_ratio"}
    assert report["integrity"]["ledger_intact"] is True
    assert report["system"]["backends_used"] == ["dlib-resnet:1"]


def test_default_k_hides_every_small_count_and_its_complement(scripted, tmp_path) -> None:
    home, _ = scripted
    _set_k(home, 5)
    try:
        out = tmp_path / "out"
        result = runner.invoke(app, ["report", "transparency", "--from", f"{THIS_YEAR}-01-01",
                                     "--to", f"{THIS_YEAR}-12-31", "--home", str(home.root),
                                     "--out", str(out), "--json"])
    finally:
        _set_k(home, 1)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["suppression"]["k"] == 5 and report["suppression"]["primary"] > 0
    shown = [v for t in report["tables"] for line in
             [*t["rows"], *([t["totals"]] if t["totals"] else [])]
             for v in [*line["values"], line["total"]]]
    assert not [v for v in shown if isinstance(v, int) and 0 < v < 5]
    assert "< 5" in shown
    assert sorted(p.name for p in out.iterdir()) == ["transparency.csv", "transparency.html",
                                                      "transparency.json"]
    csv_text = (out / "transparency.csv").read_text()
    assert csv_text.splitlines()[0] == "table,row,class,period,value"
    for line in csv_text.splitlines()[1:]:
        value = line.rsplit(",", 1)[1]
        assert not (value.isdigit() and 0 < int(value) < 5), line
    dom, console = open_in_chromium((out / "transparency.html").as_uri(),
                                    tmp_path / "profile", "--dump-dom")
    assert "Searches by offence investigated" in dom and "&lt; 5" in dom
    assert not [line for line in console if "Uncaught" in line]


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_each_template_cites_its_section(scripted, name) -> None:
    home, _ = scripted
    report = _year(home, template=name)
    template = report["template"]
    assert template["name"] == name and template["citation"]
    tables = {t["name"] for t in report["tables"]}
    for section in template["sections"]:
        assert set(section["tables"]) <= tables
    assert "never infers" in template["demographics"]
    from faceaudit.ledger.transparency_files import transparency_html

    page = transparency_html(report)
    assert template["citation"] in page.replace("&#39;", "'").replace("&amp;", "&")
    # the page opens on a sentence naming the template, not on a bare lowercase phrase
    # ("every table faceaudit publishes. Period: …" on the full template)
    assert f"<p>Template {name} (" in page
    for section in template["sections"]:
        assert section["heading"] in page


def test_the_citations_name_each_statute(scripted) -> None:
    assert "§ 2-510" in TEMPLATES["maryland-2-510"].citation
    assert "77-23e-106" in TEMPLATES["utah-77-23e-106"].citation
    assert "44-15-111" in TEMPLATES["montana-44-15-111"].citation
    assert "43.386" in TEMPLATES["washington-43-386"].citation


def test_quarters_and_bad_requests(scripted) -> None:
    home, _ = scripted
    report = build_transparency(home, datetime(THIS_YEAR, 1, 1, tzinfo=UTC),
                                datetime(THIS_YEAR + 1, 1, 1, tzinfo=UTC), unit="quarter")
    assert report["period"]["columns"] == [f"{THIS_YEAR}-Q{q}" for q in range(1, 5)]
    with pytest.raises(TransparencyRequestError):
        build_transparency(home, datetime(THIS_YEAR, 1, 1, tzinfo=UTC),
                           datetime(THIS_YEAR + 1, 1, 1, tzinfo=UTC), template="nevada")
    with pytest.raises(TransparencyRequestError):
        build_transparency(home, datetime(THIS_YEAR, 2, 1, tzinfo=UTC),
                           datetime(THIS_YEAR, 1, 1, tzinfo=UTC))
    base = ["report", "transparency", "--home", str(home.root)]
    for args, names in (
        (["--from", "last spring", "--to", "2026-12-31"], "--from"),
        (["--from", "2026-01-01", "--to", "2026-12-31", "--template", "nevada"], "--template"),
        (["--from", "2026-01-01", "--to", "2026-12-31", "--period", "week"], "--period"),
        (["--from", "2026-06-01", "--to", "2026-01-01"], "--to"),
    ):
        result = runner.invoke(app, [*base, *args])
        assert result.exit_code == 2, result.output
        assert result.stderr.startswith("faceaudit: error: ") and names in result.stderr
        assert result.stdout == ""


def test_the_terminal_summary(scripted) -> None:
    home, _ = scripted
    result = runner.invoke(app, ["report", "transparency", "--from", f"{THIS_YEAR}-01-01",
                                 "--to", f"{THIS_YEAR}-12-31", "--period", "year",
                                 "--home", str(home.root)])
    assert result.exit_code == 0, result.output
    assert f"searches: {THIS_YEAR} 3; total 3" in result.stdout
    assert "ledger intact" in result.stdout
