"""The transparency log over REST (signed tree head, inclusion and consistency proofs) and
``faceaudit witness --url`` against a real HTTP server."""

from __future__ import annotations

import json
import shutil

from service_harness import (
    Service,
    faces_small,
    fake_calibration,
    make_keys,
    register_passing_audit,
    serve,
)
from typer.testing import CliRunner

from faceaudit.cli import app
from faceaudit.deployment.operations import Deployment
from faceaudit.ledger import Ledger, merkle
from faceaudit.ledger.genesis import init_home
from faceaudit.ledger.signing import load_public_key
from faceaudit.ledger.sth import parse_sth, receipt_problem
from faceaudit.service.keys import Role
from faceaudit.service.settings import ServiceSettings

ROOMY = ServiceSettings(rate_per_minute=100_000, burst=10_000)


def _grow(service: Service, n: int) -> None:
    led = Ledger(service.home, sth_every=1)
    for i in range(n):
        led.append("operator-1", "identify", purpose="p", case="c",
                   result={"result_id": f"r{i}", "candidates": 1})


def _size(service: Service) -> int:
    """Events already logged (the genesis event and the harness's key creations)."""
    return sum(1 for _ in Ledger(service.home).events())


def test_head_and_proofs_verify_with_the_public_key(service: Service) -> None:
    start = _size(service)
    _grow(service, 7)
    with service.client(Role.AUDITOR) as client:
        head = parse_sth(client.get("/v1/ledger/sth").json())
        inclusion = client.get("/v1/ledger/inclusion", params={"seq": 3}).json()
        consistency = client.get("/v1/ledger/consistency", params={"first": 2}).json()
        beyond = client.get("/v1/ledger/consistency", params={"first": 99})
        missing = client.get("/v1/ledger/inclusion", params={"seq": 0})
    assert head.problem(load_public_key(service.home.public_key_path)) is None
    assert head.tree_size == start + 7  # what was there and 7 more
    line = service.home.ledger_path.read_bytes().splitlines()[2]
    assert inclusion["leaf_hash"] == merkle.leaf_hash(line).hex()
    assert inclusion["tree_size"] == start + 7 and inclusion["root_hash"] == head.root_hash
    assert merkle.verify_inclusion(2, start + 7, merkle.leaf_hash(line),
                                   [bytes.fromhex(h) for h in inclusion["audit_path"]], head.root)
    assert consistency["second"] == start + 7
    assert merkle.verify_consistency(2, start + 7, bytes.fromhex(consistency["first_root"]),
                                     head.root, [bytes.fromhex(h) for h in consistency["proof"]])
    assert beyond.status_code == 400
    assert beyond.headers["content-type"] == "application/problem+json"
    assert missing.status_code == 422
    with service.client(Role.OPERATOR) as client:
        assert client.get("/v1/ledger/sth").status_code == 403


def test_witness_over_http_detects_a_rollback(service: Service, tmp_path) -> None:
    runner = CliRunner()
    start = _size(service)
    _grow(service, 4)
    pinned = tmp_path / "deployment.pub"
    shutil.copy(service.home.public_key_path, pinned)
    backup = tmp_path / "backup"
    shutil.copytree(service.home.root, backup)
    token = service.tokens[Role.AUDITOR]
    base = ["witness", "--json", "--state", str(tmp_path / "w"), "--url", service.url,
            "--api-key", token]

    first = runner.invoke(app, [*base, "--public-key", str(pinned)])
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["status"] == "first-contact"
    _grow(service, 3)
    grown = runner.invoke(app, base)
    assert grown.exit_code == 0, grown.output
    assert json.loads(grown.stdout)["head"]["tree_size"] == start + 7

    for name in ("ledger.jsonl", "ledger.head", "ledger.sth.jsonl"):  # back to 5 events
        shutil.copy(backup / name, service.home.root / name)
    shutil.rmtree(service.home.root / "ledger.tree")
    shutil.copytree(backup / "ledger.tree", service.home.root / "ledger.tree")
    rolled = runner.invoke(app, base)
    assert rolled.exit_code == 4
    assert json.loads(rolled.stdout)["status"] == "rollback"

    wrong_key = runner.invoke(app, [*base[:-2], "--api-key", service.tokens[Role.OPERATOR]])
    assert wrong_key.exit_code == 2 and "403" in wrong_key.stderr


def test_enrol_identify_and_verify_answers_carry_a_receipt(tmp_path) -> None:
    home = init_home(tmp_path / "home")
    register_passing_audit(home, "dlib-resnet:1")
    tokens = make_keys(home)
    deployment = Deployment(home, calibration=fake_calibration())
    pinned = tmp_path / "deployment.pub"
    shutil.copy(home.public_key_path, pinned)
    faces = faces_small() / "mdtf-cc-by-2.0"

    def files(name: str) -> tuple[str, bytes, str]:
        return (name, (faces / name).read_bytes(), "image/png")

    with serve(home, ROOMY, deployment) as url:
        service = Service(url, home, tokens)
        with service.client(Role.ENROLLER) as client:
            enrolled = client.post("/v1/subjects", data={
                "subject_id": "p1", "basis": "consent", "evidence": "form-1"},
                files=[("images", files("1.png"))])
        with service.client(Role.OPERATOR) as client:
            found = client.post("/v1/identify", data={"purpose": "p", "case": "c"},
                                files={"image": files("2.png")})
            verified = client.post("/v1/verify", data={"subject_id": "p1", "purpose": "p",
                                                       "case": "c"},
                                   files={"image_a": files("2.png")})
    events = {e["seq"]: e for e in Ledger(home).events()}
    public = load_public_key(pinned)
    for response, action in ((enrolled, "enrol"), (found, "identify"), (verified, "verify")):
        assert response.status_code in (200, 201), response.text
        receipt = response.json()["receipt"]
        event = events[receipt["seq"]]
        assert event["action"] == action
        assert receipt_problem(receipt, public, event) is None, action
        assert receipt["sth"]["tree_size"] >= receipt["seq"]
    # a witness that later pins the same key can start from any receipt's head
    assert Ledger(home).verify(pinned).ok
