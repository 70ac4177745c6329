"""Deployment end to end on real faces: enrol, identify, review, verify, erase, refusals — on
the home's SQLite/files and on PostgreSQL + pgvector (every test runs on both)."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import psycopg
import pytest
from PIL import Image

from faceaudit import api
from faceaudit.base.errors import NoFaceError
from faceaudit.base.home import Home
from faceaudit.deployment.operations import Deployment
from faceaudit.deployment.reviews import TaskRef
from faceaudit.engine.faces.quality import COMPONENTS
from faceaudit.gallery import (
    BackendMismatchError,
    ConsentError,
    InvalidRequestError,
    MultipleFacesError,
)
from faceaudit.ledger import Ledger
from faceaudit.ledger.genesis import init_home
from faceaudit.policy import PolicyRefusal

PEOPLE = {"p1": ("1.png", "2.png"), "p2": ("3.png", "4.png"), "p3": ("5.png", "6.png")}


def enrol_people(deployment: Deployment, mdtf, **kwargs) -> None:
    for subject, (enrol_image, _) in PEOPLE.items():
        deployment.enrol(actor="clerk", subject_id=subject, images=[mdtf / enrol_image],
                         basis="consent", evidence=f"form-{subject}", **kwargs)


@pytest.fixture
def home(tmp_path, database_url) -> Home:
    """An empty deployment home, its gallery and ledger in files or in PostgreSQL."""
    return init_home(tmp_path / "home", database_url)


def db_bytes(home) -> bytes:
    """Where an embedding could be: the SQLite file and its WAL, or (after a CHECKPOINT) every
    table, index and TOAST file of the PostgreSQL database."""
    url = home.database_url_in_force()
    if url is None:
        wal = home.db_path.with_name(home.db_path.name + "-wal")
        return home.db_path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
    with psycopg.connect(url, autocommit=True) as con:
        con.execute("CHECKPOINT")
        folder = Path(con.execute("SHOW data_directory").fetchone()[0]) / "base" / str(
            con.execute("SELECT oid FROM pg_database WHERE datname = current_database()"
                        ).fetchone()[0])
    return b"".join(f.read_bytes() for f in sorted(folder.iterdir()) if f.is_file())


def kept_images(home) -> list[bytes]:
    """The enrolment images the gallery keeps."""
    url = home.database_url_in_force()
    if url is None:
        with sqlite3.connect(home.db_path) as con:
            return [row[0] for row in con.execute("SELECT data FROM images")]
    with psycopg.connect(url) as con:
        return [bytes(row[0]) for row in con.execute("SELECT data FROM images")]


def actions(home) -> list[str]:
    """The actions logged after the home's genesis ``init`` event, leaving out the ``intent``
    events that precede every write."""
    return [e["action"] for e in Ledger(home).events() if e["action"] not in ("init", "intent")]


def test_identify_ranks_the_right_subject_first(deployment, mdtf, audited_home):
    enrol_people(deployment, mdtf)
    for subject, (_, probe) in PEOPLE.items():
        result = deployment.identify(actor="officer", image=mdtf / probe,
                                     purpose="missing person", case="C-1")
        assert result["requires_review"] is True
        assert len(result["faces"]) == 1
        candidates = result["faces"][0]["candidates"]
        assert candidates[0]["subject_id"] == subject
        assert candidates[0]["rank"] == 1
        assert all(c["score"] >= result["threshold"] for c in candidates)
        assert all(0 < c["fmr"] <= result["fmr_target"] for c in candidates)
    assert actions(audited_home)[-6:] == ["enrol"] * 3 + ["identify"] * 3
    event = list(Ledger(audited_home).events())[-1]
    assert event["purpose"] == "missing person" and event["case"] == "C-1"
    assert set(event["result"]) == {"result_id", "faces", "candidates", "intent_id", "use", "gate",
                                    "candidate_commitments", "probe_quality",
                                    "crop_commitments"}
    assert event["result"]["crop_commitments"] is None  # the policy keeps no probe crop
    # the probe's quality components, rounded, as the result gives them (docs/quality.md)
    assert event["result"]["probe_quality"] == [face["quality"] for face in result["faces"]]
    assert list(result["faces"][0]["quality"]) == list(COMPONENTS)
    assert 10 < result["faces"][0]["quality"]["inter_eye_distance_px"] < 60
    assert event["result"]["gate"]["verdict"] == "passed" and event["result"]["gate"]["audit_id"]
    use = event["result"]["use"]  # what EU AI Act Art. 12(3) asks of each use
    assert use["started_at"] <= use["ended_at"] and use["faces_found"] == 1
    assert use["reference_database"]["templates"] >= 3
    assert use["probe_sha256"] == hashlib.sha256((mdtf / probe).read_bytes()).hexdigest()
    assert Ledger(audited_home).verify().ok


def test_group_photo_gives_one_entry_per_face(deployment, mdtf, faces_small):
    enrol_people(deployment, mdtf)
    result = deployment.identify(actor="officer", image=faces_small / "group/insightface_t1.jpg",
                                 purpose="p", case="c")
    assert len(result["faces"]) == 6
    for face in result["faces"]:  # named fields (issue 14), in the photo's pixels
        box = face["box"]
        assert set(box) == {"left", "top", "right", "bottom"}
        assert 0 <= box["left"] < box["right"] < 1280 and 0 <= box["top"] < box["bottom"] < 886


def test_probe_is_not_stored_and_images_only_when_asked(deployment, mdtf, audited_home):
    enrol_people(deployment, mdtf)
    deployment.enrol(actor="clerk", subject_id="kept", images=[mdtf / "2.png"], basis="consent",
                     evidence="form-k", keep_images=True, allow_duplicate=True)
    probe = api.face_embeddings(api.load_image(mdtf / "4.png"))[1][0]
    deployment.identify(actor="officer", image=mdtf / "4.png", purpose="p", case="c")
    stored = db_bytes(audited_home)
    assert probe.astype("<f4").tobytes()[:64] not in stored
    kept = kept_images(audited_home)
    assert kept == [(mdtf / "2.png").read_bytes()]
    listed = {s["subject_id"]: s for s in deployment.list_subjects()}
    assert listed["kept"]["images"] == 1 and listed["p1"]["images"] == 0


def test_review_is_recorded_once_per_reviewer(deployment, mdtf, audited_home):
    enrol_people(deployment, mdtf)
    result = deployment.identify(actor="officer", image=mdtf / "2.png", purpose="p", case="c")
    ref = TaskRef(result_id=result["result_id"], face=0, subject_id="p1")
    reviewed = deployment.review(actor="sgt-b", ref=ref, decision="confirm", note="same person")
    assert reviewed["your_decision"] == "confirm"
    with pytest.raises(PolicyRefusal, match="same-reviewer"):
        deployment.review(actor="sgt-b", ref=ref, decision="reject")
    event = next(e for e in reversed(list(Ledger(audited_home).events()))
                 if e["action"] == "review")
    assert event["result"] == {
        "result_id": result["result_id"], "task_id": reviewed["task_id"], "face": 0,
        "decision": "confirm", "reviewer": "sgt-b", "lead": "pending", "confirms": 1,
        "rejects": 0, "disagreement": False, "required": 2,
        "intent_id": event["result"]["intent_id"]}


def test_verify_against_image_and_subject(deployment, mdtf):
    enrol_people(deployment, mdtf)
    same = deployment.verify(actor="a", image_a=mdtf / "3.png", image_b=mdtf / "4.png",
                             purpose="p")
    other = deployment.verify(actor="a", image_a=mdtf / "3.png", image_b=mdtf / "6.png",
                              purpose="p")
    enrolled = deployment.verify(actor="a", image_a=mdtf / "6.png", subject_id="p3", purpose="p")
    assert same["match"] and not other["match"] and enrolled["match"]
    assert same["score"] > other["score"]
    with pytest.raises(InvalidRequestError):
        deployment.verify(actor="a", image_a=mdtf / "3.png", purpose="p")


def test_erase_removes_subject_from_search_and_file(deployment, mdtf, audited_home):
    enrol_people(deployment, mdtf)
    template = api.face_embeddings(api.load_image(mdtf / "3.png"))[1][0]
    needle = template.astype("<f4").tobytes()
    before = deployment.identify(actor="o", image=mdtf / "4.png", purpose="p", case="c")
    assert before["faces"][0]["candidates"][0]["subject_id"] == "p2"
    assert needle in db_bytes(audited_home)
    erased = deployment.erase(actor="dpo", subject_id="p2", purpose="art. 17 request")
    assert erased["templates"] == 1
    after = deployment.identify(actor="o", image=mdtf / "4.png", purpose="p", case="c")
    assert "p2" not in [c["subject_id"] for c in after["faces"][0]["candidates"]]
    assert needle not in db_bytes(audited_home)
    # the earlier result no longer names the erased subject
    stored = deployment.get_result(before["result_id"])
    assert stored["faces"][0]["candidates"][0]["subject_id"] is None


def test_a_second_deployment_sees_writes_of_the_first(deployment, mdtf, audited_home,
                                                       calibration):
    other = Deployment(audited_home, calibration=calibration)
    enrol_people(deployment, mdtf)
    assert other.identify(actor="o", image=mdtf / "2.png", purpose="p", case="c")[
        "faces"][0]["candidates"][0]["subject_id"] == "p1"
    other.erase(actor="dpo", subject_id="p1")
    result = deployment.identify(actor="o", image=mdtf / "2.png", purpose="p", case="c")
    assert "p1" not in [c["subject_id"] for c in result["faces"][0]["candidates"]]


def test_refusals_are_logged_and_raised(home, mdtf, calibration):
    deployment = Deployment(home, calibration=calibration)  # no audit registered
    with pytest.raises(PolicyRefusal) as refused:
        deployment.identify(actor="o", image=mdtf / "2.png", purpose="p", case="c")
    assert refused.value.rule == "no-audit"
    with pytest.raises(PolicyRefusal) as refused:
        deployment.identify(actor="o", image=mdtf / "2.png", purpose="p", case="")
    assert refused.value.rule == "required-field"
    assert actions(home) == ["refused", "refused"]


def test_bad_enrolments_are_typed_errors(deployment, mdtf, faces_small, tmp_path):
    with pytest.raises(MultipleFacesError) as several:
        deployment.enrol(actor="c", subject_id="g", basis="consent", evidence="f",
                         images=[faces_small / "group/insightface_t1.jpg"])
    # one class for both situations (api.SeveralFacesError); enrolment keeps its public code
    assert isinstance(several.value, api.SeveralFacesError) and several.value.count > 1
    assert several.value.code == "multiple-faces"
    blank = tmp_path / "blank.png"
    Image.new("RGB", (200, 200), "white").save(blank)
    with pytest.raises(NoFaceError):
        deployment.enrol(actor="c", subject_id="b", images=[blank], basis="consent", evidence="f")
    with pytest.raises(ConsentError):
        deployment.enrol(actor="c", subject_id="x", images=[mdtf / "1.png"], basis="consent",
                         evidence="f", expires_at=datetime(2000, 1, 1, tzinfo=UTC))
    with pytest.raises(InvalidRequestError):
        deployment.enrol_templates(actor="c", subject_id="x", backend_id="dlib-resnet:1",
                                   embeddings=np.ones((1, 128)), basis="consent", evidence="f")
    assert deployment.list_subjects() == []
    assert json.dumps(deployment.list_subjects()) == "[]"


def test_gallery_of_another_backend_is_refused(deployment, mdtf):
    vector = np.zeros((1, 128), dtype=np.float32)
    vector[0, 0] = 1.0
    deployment.enrol_templates(actor="c", subject_id="old", backend_id="other-model:1",
                               embeddings=vector, basis="consent", evidence="f")
    with pytest.raises(BackendMismatchError):
        deployment.enrol(actor="c", subject_id="new", images=[mdtf / "1.png"], basis="consent",
                         evidence="f")
    with pytest.raises(BackendMismatchError):
        deployment.identify(actor="o", image=mdtf / "2.png", purpose="p", case="c")
    with pytest.raises(BackendMismatchError):
        deployment.verify(actor="o", image_a=mdtf / "2.png", subject_id="old", purpose="p")
