"""Authorisation before a search (EU AI Act Art. 5, 26(10); Md. Crim. Proc. §2-503): every
rule refuses with a clear error and a ``refused`` event and changes nothing; an urgent search
is held until authorised and its outputs leave every file when refused or late."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from faceaudit.deployment.operations import Deployment
from faceaudit.deployment.reviews import TaskRef
from faceaudit.gallery.errors import ResultHeldError, UnknownResultError
from faceaudit.ledger import Ledger
from faceaudit.policy import PolicyRefusal
from faceaudit.policy.authorisation import Authorisation
from faceaudit.policy.enforce import install_policy

RULES = """
[authorisation]
required_for = ["identify"]
offence_required_for = ["identify"]
offences = ["homicide", "robbery"]
offences_legal_source = "Md. Code, Crim. Proc. § 2-503(a)"
urgent_deadline_hours = 48
"""
WARRANT = Authorisation("W-2026-0042", "District Court of Baltimore", "warrant",
                        datetime.now(UTC) + timedelta(days=30))
URGENT = Authorisation("URG-17", "Duty inspector Hale", "urgent")


@pytest.fixture
def police(deployment: Deployment, mdtf: Path) -> Deployment:
    """A deployment whose policy requires an authorisation and an offence for identify,
    with one enrolled subject."""
    home = deployment.home
    text = home.policy_path.read_text() + RULES
    staged = home.root.parent / "police-policy.toml"
    staged.write_text(text)
    install_policy(home, Ledger(home), staged, "admin")
    deployment.enrol(actor="clerk", subject_id="s-1", images=[mdtf / "1.png"],
                     basis="consent", evidence="form-1")
    return deployment


def _events(home):
    return list(Ledger(home).events())


def _search(dep, mdtf, **kwargs):
    return dep.identify(actor="officer", image=mdtf / "2.png", purpose="p", case="C-9",
                        **kwargs)


def _refused(dep, mdtf, rule, **kwargs):
    before = len(_events(dep.home))
    results_before = dep.store.held_results()
    with pytest.raises(PolicyRefusal) as info:
        _search(dep, mdtf, **kwargs)
    assert info.value.rule == rule, info.value
    new = _events(dep.home)[before:]
    assert [e["action"] for e in new] == ["refused"]
    assert new[0]["result"]["rule"] == rule
    assert dep.store.held_results() == results_before
    return info.value


def test_a_search_without_authorisation_or_offence_names_every_missing_field(police, mdtf):
    refusal = _refused(police, mdtf, "authorisation-missing")
    for name in ("reference", "authority", "kind", "offence"):
        assert name in refusal.detail


def test_offence_missing_alone_is_named(police, mdtf):
    refusal = _refused(police, mdtf, "authorisation-missing", authorisation=WARRANT)
    assert "offence" in refusal.detail and "reference" not in refusal.detail


def test_expired_authorisation_is_refused(police, mdtf):
    expired = Authorisation("W-1", "Court", "warrant", datetime.now(UTC) - timedelta(hours=1))
    _refused(police, mdtf, "authorisation-expired", authorisation=expired, offence="robbery")


def test_offence_outside_the_policys_list_is_refused(police, mdtf):
    refusal = _refused(police, mdtf, "offence-not-listed", authorisation=WARRANT,
                       offence="shoplifting")
    assert "2-503" in refusal.detail  # the list's legal source is named


def test_an_authorised_search_records_its_authorisation_and_use(police, mdtf):
    found = _search(police, mdtf, authorisation=WARRANT, offence="robbery")
    assert found["faces"] and found["held_until"] is None
    (identify,) = [e for e in _events(police.home) if e["action"] == "identify"]
    use = identify["result"]["use"]
    assert use["authorisation"]["reference"] == "W-2026-0042"
    assert use["authorisation"]["kind"] == "warrant" and use["offence"] == "robbery"
    assert use["faces_found"] == 1 and use["reference_database"]["templates"] == 1
    assert len(use["probe_sha256"]) == 64
    assert found["record"] == use  # the caller's receipt holds the same record


def _db_files(home) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in home.root.rglob("*")
            if p.is_file() and not p.name.startswith("ledger")}


def test_urgent_search_is_held_until_its_authorisation_is_granted(police, mdtf):
    found = _search(police, mdtf, authorisation=URGENT, offence="homicide")
    assert found["faces"] == [] and found["held_until"]  # nothing shown while held
    with pytest.raises(ResultHeldError):
        police.get_result(found["result_id"])
    with pytest.raises(ResultHeldError):
        police.review(actor="sgt-b", decision="confirm", ref=TaskRef(
            result_id=found["result_id"], face=0, subject_id="s-1"))
    assert police.pending_reviews(actor="sgt-b") == []  # a held result has no task to review
    assert [h["result_id"] for h in police.held_searches()] == [found["result_id"]]
    police.record_authorisation(actor="admin", result_id=found["result_id"],
                                decision="granted", authorisation=WARRANT)
    assert police.get_result(found["result_id"])["faces"][0]["candidates"]
    assert police.held_searches() == []
    assert [t["result_id"] for t in police.pending_reviews(actor="sgt-b")] == [
        found["result_id"]]
    decision = [e for e in _events(police.home) if e["action"] == "authorisation"]
    assert decision[-1]["result"]["decision"] == "granted"


def test_refused_authorisation_deletes_the_outputs_from_every_file(police, mdtf):
    found = _search(police, mdtf, authorisation=URGENT, offence="homicide")
    needle = found["result_id"].encode()
    assert any(needle in data for data in _db_files(police.home).values())
    police.record_authorisation(actor="admin", result_id=found["result_id"],
                                decision="refused",
                                authorisation=Authorisation("REF-9", "Court", "judicial"))
    assert not [name for name, data in _db_files(police.home).items() if needle in data]
    with pytest.raises(UnknownResultError):
        police.get_result(found["result_id"])
    (deleted,) = [e for e in _events(police.home) if e["action"] == "outputs_deleted"]
    assert deleted["result"]["result_ids"] == [found["result_id"]]
    assert deleted["result"]["reason"] == "authorisation-refused"
    assert deleted["result"]["case_flagged"] is True and deleted["case"] == "C-9"


def test_an_urgent_search_past_its_deadline_is_deleted_by_the_next_operation(police, mdtf):
    found = _search(police, mdtf, authorisation=URGENT, offence="homicide")
    later = datetime.now(UTC) + timedelta(hours=49)
    assert police.sweep_holds("faceaudit", now=datetime.now(UTC)) == []  # not yet late
    assert police.sweep_holds("faceaudit", now=later) == [found["result_id"]]
    needle = found["result_id"].encode()
    assert not [name for name, data in _db_files(police.home).items() if needle in data]
    (deleted,) = [e for e in _events(police.home) if e["action"] == "outputs_deleted"]
    assert deleted["result"]["reason"] == "authorisation-deadline-passed"
    with pytest.raises(UnknownResultError):
        police.record_authorisation(actor="admin", result_id=found["result_id"],
                                    decision="granted", authorisation=WARRANT)


def test_a_late_urgent_search_takes_its_probe_crops_and_review_tasks_with_it(police, mdtf):
    staged = police.home.root.parent / "crops-policy.toml"
    staged.write_text(police.home.policy_path.read_text() + "\n[review]\nprobe_crop_hours = 96\n")
    install_policy(police.home, Ledger(police.home), staged, "admin")
    found = _search(police, mdtf, authorisation=URGENT, offence="homicide")
    crop = police.store.probe_crop(found["result_id"], 0)
    (task,) = police.store.get_result(found["result_id"])["tasks"]
    assert crop is not None
    for needle in (crop[100:164], task["task_id"].encode()):
        assert any(needle in data for data in _db_files(police.home).values())
    # 49 h: past the 48 h deadline, before the crops' own 96 h review period ends
    later = datetime.now(UTC) + timedelta(hours=49)
    assert police.sweep_holds("faceaudit", now=later) == [found["result_id"]]
    for needle in (crop[100:164], task["task_id"].encode(), found["result_id"].encode()):
        assert not [name for name, data in _db_files(police.home).items() if needle in data]
    assert police.store.probe_crop(found["result_id"], 0) is None


def test_the_default_policy_requires_no_authorisation(deployment, mdtf):
    deployment.enrol(actor="clerk", subject_id="s-1", images=[mdtf / "1.png"],
                     basis="consent", evidence="form-1")
    assert _search(deployment, mdtf)["faces"]


def test_the_oversight_report_shows_each_searchs_use_record(police, mdtf):
    from faceaudit.ledger.oversight import build_oversight

    kept = _search(police, mdtf, authorisation=WARRANT, offence="robbery")
    gone = _search(police, mdtf, authorisation=URGENT, offence="homicide")
    police.record_authorisation(actor="admin", result_id=gone["result_id"], decision="refused",
                                authorisation=Authorisation("R-1", "Court", "judicial"))
    report = build_oversight(Ledger(police.home), datetime.now(UTC) - timedelta(hours=1),
                             datetime.now(UTC) + timedelta(hours=1))
    rows = {r["result_id"]: r for r in report["reviews"]["rows"]}
    assert rows[kept["result_id"]]["authorisation"] == "W-2026-0042"
    assert rows[kept["result_id"]]["offence"] == "robbery"
    assert rows[kept["result_id"]]["templates_searched"] == 1
    assert rows[kept["result_id"]]["status"] == "searched"
    assert rows[gone["result_id"]]["status"] == "outputs deleted (authorisation-refused)"
    assert any(e["action"] == "outputs_deleted" for e in report["erasures"])
