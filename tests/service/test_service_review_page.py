"""The reviewer's case view in real headless Chromium: two reviewers walk through one blind
case; neither page shows a score, a rank or the other's decision.

Set ``FACEAUDIT_SCREENSHOT_REVIEW=docs/img/review-case.png`` to also save the second
reviewer's case view there.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from browser import open_in_chromium
from PIL import Image
from service_harness import (
    Service,
    faces_small,
    fake_calibration,
    make_keys,
    register_passing_audit,
    serve,
)

from faceaudit.deployment.operations import Deployment
from faceaudit.ledger import Ledger
from faceaudit.ledger.genesis import init_home
from faceaudit.policy.enforce import install_policy
from faceaudit.service.keys import KeyStore, Role

KEPT = "\n[review]\nrequired_reviewers = 2\nblind = true\nprobe_crop_hours = 72\n"


def _image(name: str) -> bytes:
    return (faces_small() / "mdtf-cc-by-2.0" / name).read_bytes()


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Service, dict, dict]]:
    """A service whose policy keeps probe crops for review, ``p1`` enrolled with its image
    kept, one search by operator-1 (2.png) and two reviewer keys; yields the service, the
    search and the reviewers' tokens."""
    home = init_home(tmp_path_factory.mktemp("case"))
    register_passing_audit(home, "dlib-resnet:1")
    staged = home.root.parent / "review-policy.toml"
    staged.write_text(home.policy_path.read_text() + KEPT)
    install_policy(home, Ledger(home), staged, "admin")
    deployment = Deployment(home, calibration=fake_calibration())
    with ExitStack() as stack:
        service = Service(stack.enter_context(serve(home, None, deployment)), home,
                          make_keys(home))
        with service.client(Role.ENROLLER) as client:
            for subject, image in (("p1", "1.png"), ("p2", "3.png")):
                assert client.post("/v1/subjects", data={
                    "subject_id": subject, "basis": "consent", "evidence": "f",
                    "keep_images": "true"},
                    files=[("images", (image, _image(image), "image/png"))]).status_code == 201
        with service.client(Role.OPERATOR) as client:
            found = client.post("/v1/identify", data={"purpose": "robbery", "case": "C-40"},
                                files={"image": ("2.png", _image("2.png"), "image/png")}).json()
        tokens = {"reviewer-1": service.tokens[Role.REVIEWER],
                  "reviewer-2": KeyStore(home).create("reviewer", "reviewer-2")[1]}
        yield service, found, tokens


def _task_id(service: Service, token: str) -> str:
    with httpx.Client(base_url=service.url, headers={"X-API-Key": token}) as client:
        (task,) = client.get("/v1/reviews").json()["pending"]
    return task["task_id"]


def _case_view(service: Service, token: str, task_id: str, profile: Path,
               *extra: str) -> tuple[str, list[str]]:
    """Sign in in Chromium through the ``#key=`` link and land on the task's case view."""
    url = f"{service.url}/review/login?next=/review/tasks/{task_id}#key={token}"
    return open_in_chromium(url, profile, *extra)


def _blind(dom: str, token: str) -> None:
    """No score, rank or FMR anywhere in the page, nor the key."""
    text = dom.lower()
    assert "score" not in text and "rank" not in text and "fmr" not in text
    assert not re.search(r"\b0\.\d{3,}", dom)  # no similarity number either
    assert token not in dom


def test_two_reviewers_walk_through_a_blind_case_view(case, tmp_path: Path) -> None:
    service, found, tokens = case
    task_id = _task_id(service, tokens["reviewer-1"])
    assert task_id == _task_id(service, tokens["reviewer-2"])

    dom, console = _case_view(service, tokens["reviewer-1"], task_id, tmp_path / "one",
                              "--dump-dom")
    assert console == []
    _blind(dom, tokens["reviewer-1"])
    assert re.search(r'<figure id="probe">\s*<img src="data:image/jpeg;base64,', dom)
    assert re.search(r'<figure id="candidate" class="this">\s*<img src="data:image/png;base64,',
                     dom)
    assert 'id="confirm"' in dom and 'id="reject"' in dom
    assert "search by operator-1: 1 face(s), 1 candidate(s)" in dom
    assert "C-40" in dom and "p1" in dom

    # reviewer-1 presses "reject" (the form the page holds, posted with its sign-in cookie)
    action = re.search(r'<form method="post" action="([^"]+)" id="decide">', dom).group(1)
    with httpx.Client(base_url=service.url) as browser:
        signed = browser.post("/review/login", data={"key": tokens["reviewer-1"],
                                                     "next": action})
        assert signed.status_code == 303 and signed.headers["location"] == action
        cross = browser.post(action, data={"decision": "confirm"},
                             headers={"Origin": "https://elsewhere.example"})
        assert cross.status_code == 403  # a form from another site never decides
        pressed = browser.post(action, data={"decision": "reject",
                                             "note": "first reviewer says no"})
        assert pressed.status_code == 303 and pressed.headers["location"] == action
        again = browser.get(action)
        assert "You decided: <strong>reject</strong>" in again.text
        assert 'id="decide"' not in again.text  # decided: no more buttons for reviewer-1

    shot = tmp_path / "review-case.png"
    dom2, console = _case_view(service, tokens["reviewer-2"], task_id, tmp_path / "two",
                               "--dump-dom")
    assert console == []
    _blind(dom2, tokens["reviewer-2"])
    assert dom2.count("reject") == dom.count("reject")  # only the button, as before anyone decided
    assert "reviewer-1" not in dom2 and "first reviewer says no" not in dom2
    assert "You decided" not in dom2 and 'id="confirm"' in dom2

    _, console = _case_view(service, tokens["reviewer-2"], task_id, tmp_path / "three",
                            f"--screenshot={shot}", "--window-size=1280,1100")
    assert console == []
    with Image.open(shot) as img:
        assert img.size == (1280, 1100)
        assert len(img.convert("L").getcolors(maxcolors=1 << 16) or range(256)) > 30
    target = os.environ.get("FACEAUDIT_SCREENSHOT_REVIEW")
    if target:
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, target)
    reviews = [e for e in Ledger(service.home).events() if e["action"] == "review"]
    assert [(e["actor"], e["result"]["decision"]) for e in reviews] == [("reviewer-1", "reject")]
    assert found["result_id"] == reviews[0]["result"]["result_id"]


def test_the_review_pages_need_a_reviewer(case) -> None:
    service, _, tokens = case
    with httpx.Client(base_url=service.url) as browser:
        unsigned = browser.get("/review")  # no session: to the sign-in form, not 401 JSON
        assert unsigned.status_code == 303 and unsigned.headers["location"] == "/review/login"
        task = browser.get("/review/tasks/" + "ab" * 16)
        assert task.headers["location"] == "/review/login?next=/review/tasks/" + "ab" * 16
        wrong = browser.post("/review/login", data={"key": service.tokens[Role.AUDITOR]})
        assert wrong.status_code == 403
        elsewhere = browser.post("/review/login", data={"key": tokens["reviewer-2"],
                                                        "next": "https://evil.example/"})
        assert elsewhere.status_code == 303 and elsewhere.headers["location"] == "/review"
        listed = browser.get("/review")
        assert listed.status_code == 200 and "open the case view" in listed.text
        assert "default-src 'none'" in listed.headers["content-security-policy"]
        # the cookie opens the review pages, never the API
        assert browser.get("/v1/reviews").status_code == 401


def test_every_card_of_the_review_pages_fits_at_1280_px(case, tmp_path: Path) -> None:
    from browser import overflowing

    service, _, tokens = case
    task_id = _task_id(service, tokens["reviewer-2"])
    with httpx.Client(base_url=service.url, headers={"X-API-Key": tokens["reviewer-2"]}) as c:
        pages = {"list": c.get("/review").text, "case": c.get(f"/review/tasks/{task_id}").text}
    for name, page in pages.items():
        assert overflowing(page, tmp_path / name, "section", 1280) == [], name
