"""``POST /v1/cases/{case}/export`` over real HTTP (issue 23): the bundle that comes back is
checked offline with nothing but the public key — intact as exported, tampered after one score
is altered — its export is logged like the CLI's, and an unknown case is a 404 problem."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
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
from faceaudit.deployment.case_verify import check_case_bundle
from faceaudit.deployment.operations import Deployment
from faceaudit.ledger import Ledger
from faceaudit.ledger.genesis import init_home
from faceaudit.ledger.signing import load_public_key
from faceaudit.service.keys import Role
from faceaudit.service.routes.cases import wants_html
from faceaudit.service.settings import ServiceSettings

ROOMY = ServiceSettings(rate_per_minute=100_000, burst=10_000)

BACKEND = "dlib-resnet:1"


@pytest.fixture(scope="module")
def with_case(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Service, str]]:
    """A service whose ledger holds case C-9: two searches (one with a hit) and a review."""
    home = init_home(tmp_path_factory.mktemp("cases"))
    register_passing_audit(home, BACKEND)
    deployment = Deployment(home, calibration=fake_calibration())
    mdtf = faces_small() / "mdtf-cc-by-2.0"
    for subject, image in (("s-1", "1.png"), ("s-3", "3.png")):
        deployment.enrol(actor="clerk", subject_id=subject, images=[mdtf / image],
                         basis="consent", evidence=f"form-{subject}")
    hit = deployment.identify(actor="alice", image=mdtf / "2.png", purpose="p", case="C-9")
    deployment.identify(actor="alice", image=mdtf / "5.png", purpose="p", case="C-9")
    deployment.identify(actor="bob", image=mdtf / "4.png", purpose="p", case="OTHER")
    task = deployment.get_result(hit["result_id"])["tasks"][0]["task_id"]
    from faceaudit.deployment.reviews import TaskRef

    deployment.review(actor="rev-a", ref=TaskRef(task_id=task), decision="confirm")
    with ExitStack() as stack:
        tokens = make_keys(home)
        yield Service(stack.enter_context(serve(home, ROOMY, deployment)), home, tokens), \
            hit["result_id"]


def _exports(home) -> list[dict]:
    return [e for e in Ledger(home).events() if e["action"] == "case_export"]


def _verify_cli(folder: Path, key: Path) -> tuple[int, dict]:
    result = CliRunner().invoke(app, ["case", "verify", str(folder), "--public-key", str(key),
                                      "--json"])
    return result.exit_code, json.loads(result.stdout)


def test_the_exported_bundle_verifies_offline_then_a_changed_score_is_caught(
        with_case, tmp_path: Path) -> None:
    service, result_id = with_case
    before = len(_exports(service.home))
    with service.client(Role.AUDITOR) as client:
        response = client.post("/v1/cases/C-9/export")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    bundle = response.json()
    assert bundle["case"] == "C-9" and result_id in bundle["results"]
    assert "OTHER" not in response.text
    # logged exactly like the CLI's export, by the key's actor, and included in the bundle
    logged = _exports(service.home)
    assert len(logged) == before + 1 and logged[-1]["actor"] == "auditor-1"
    assert bundle["events"][-1]["event"] == logged[-1]

    key_path = tmp_path / "deployment.pub"  # the defence's copy, obtained out of band
    shutil.copy(service.home.public_key_path, key_path)
    check = check_case_bundle(bundle, load_public_key(key_path))
    assert check.ok, check.problems
    assert check.searches == 2  # the search without a candidate too
    folder = tmp_path / "bundle"
    folder.mkdir()
    (folder / "case.json").write_text(response.text)
    code, summary = _verify_cli(folder, key_path)
    assert code == 0, summary

    bundle["results"][result_id]["faces"][0]["candidates"][0]["score"] = 0.5
    (folder / "case.json").write_text(json.dumps(bundle))
    code, summary = _verify_cli(folder, key_path)
    assert code == 4 and any("candidate 1" in p for p in summary["problems"]), summary


def test_accept_html_answers_the_printable_page(with_case) -> None:
    service, result_id = with_case
    with service.client(Role.ADMIN) as client:
        response = client.post("/v1/cases/C-9/export",
                               headers={"Accept": "text/html,application/xhtml+xml;q=0.9"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "Face recognition was used in this case" in response.text
    assert result_id in response.text and "OTHER" not in response.text
    assert _exports(service.home)[-1]["actor"] == "admin-1"


def test_an_unknown_case_is_a_404_problem_and_logs_nothing(with_case) -> None:
    service, _ = with_case
    before = len(list(Ledger(service.home).events()))
    with service.client(Role.AUDITOR) as client:
        response = client.post("/v1/cases/NO-SUCH-CASE/export")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("/unknown-case")
    assert "NO-SUCH-CASE" in response.json()["detail"]
    assert len(list(Ledger(service.home).events())) == before


def test_the_searchers_may_not_export(with_case) -> None:
    service, _ = with_case
    for role in (Role.OPERATOR, Role.REVIEWER, Role.ENROLLER):
        with service.client(role) as client:
            assert client.post("/v1/cases/C-9/export").status_code == 403


@pytest.mark.parametrize(("accept", "html"), [
    (None, False), ("", False), ("application/json", False), ("*/*", False),
    ("text/html", True), ("text/html, application/json", False),
    ("application/json;q=0.5, text/html", True), ("text/html;q=0.1, */*", False),
    ("text/html;q=bad", False),
])
def test_accept_negotiation(accept, html) -> None:
    assert wants_html(accept) is html
