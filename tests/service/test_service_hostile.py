"""Hostile uploads over real HTTP: never a 5xx for any file, and a bounded image pool (503 with
Retry-After when it is full or a request runs out of time) instead of one request starving all."""

from __future__ import annotations

import io
import itertools
import threading
import time
from collections.abc import Callable

import httpx
import pytest
from hostile_images import base_picture, foreign_cases, hostile_cases
from PIL import Image
from service_harness import Service, faces_small, register_passing_audit

from faceaudit.base.errors import TimeLimitError
from faceaudit.service.keys import Role
from faceaudit.service.limits import ImageWorkPool
from faceaudit.service.problems import ServiceBusyError
from faceaudit.service.settings import ServiceSettings


def _verify(client: httpx.Client, a: bytes, b: bytes) -> httpx.Response:
    return client.post("/v1/verify", data={"purpose": "test"},
                       files={"image_a": ("a.jpg", a, "application/octet-stream"),
                              "image_b": ("b.jpg", b, "application/octet-stream")})


def _is_problem(response: httpx.Response, status: int | None = None) -> None:
    if status is not None:
        assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json", response.text
    assert "Traceback" not in response.text


@pytest.mark.timeout(120)
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_fuzzed_uploads_never_get_a_5xx(roomy_service: Service) -> None:
    register_passing_audit(roomy_service.home, "dlib-resnet:1")
    face = faces_small() / "face_recognition-mit" / "obama.jpg"
    picture = base_picture(Image.open(face))
    reference = face.read_bytes()
    cases = list(itertools.chain(hostile_cases(picture), foreign_cases(picture)))
    chosen = [c for i, c in enumerate(cases) if i % 9 == 0 or "exif-short-tag" in c.name
              or c.name == "foreign-AVIF/clean"]
    assert len(chosen) >= 50
    statuses: dict[int, int] = {}
    with roomy_service.client(Role.OPERATOR) as client:
        for case in chosen:
            response = _verify(client, case.data, reference)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            assert response.status_code < 500, (case.name, response.text)
            if response.status_code >= 400:
                _is_problem(response)
        # the same keep-alive client still works after every refusal
        assert _verify(client, reference, reference).json()["match"] is True
    assert statuses.get(200, 0) > 0 and statuses.get(422, 0) > 0


def test_time_limit_is_503_with_retry_after(service_factory: Callable[..., Service]) -> None:
    service = service_factory(ServiceSettings(image_time_limit_s=1e-6))
    register_passing_audit(service.home, "dlib-resnet:1")
    image = (faces_small() / "face_recognition-mit" / "obama.jpg").read_bytes()
    with service.client(Role.OPERATOR) as client:
        response = _verify(client, image, image)
        _is_problem(response, 503)
        assert response.json()["type"].endswith("/time-limit")
        assert int(response.headers["retry-after"]) >= 1
        assert client.get("/healthz").status_code == 200


def _bomb() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (7000, 5700)).save(buffer, "PNG")  # 39.9 Mpx of zeros, ~100 kB
    return buffer.getvalue()


@pytest.mark.timeout(120)
def test_full_pool_answers_503_at_once(service_factory: Callable[..., Service]) -> None:
    service = service_factory(ServiceSettings(image_workers=1, image_queue=0,
                                              busy_retry_after_s=3))
    register_passing_audit(service.home, "dlib-resnet:1")
    small = (faces_small() / "face_recognition-mit" / "obama.jpg").read_bytes()
    bomb = _bomb()
    done = threading.Event()
    slow: list[httpx.Response] = []

    def occupy() -> None:
        with service.client(Role.OPERATOR) as client:
            slow.append(_verify(client, bomb, bomb))
        done.set()

    with service.client(Role.OPERATOR) as client:  # load the models first
        assert _verify(client, small, small).status_code == 200
    thread = threading.Thread(target=occupy)
    thread.start()
    time.sleep(0.3)  # the bomb is uploaded and being decoded
    busy: httpx.Response | None = None
    seen: list[int] = []
    with service.client(Role.OPERATOR) as client:
        while not done.is_set():
            response = _verify(client, small, small)
            seen.append(response.status_code)
            if response.status_code == 503:
                busy = response
                break
            time.sleep(0.05)
    thread.join(60)
    assert busy is not None, ("the single image worker was never seen busy", seen)
    _is_problem(busy, 503)
    assert busy.json()["type"].endswith("/busy") and busy.headers["retry-after"] == "3"
    assert slow and slow[0].status_code == 422  # the bomb itself: no face, refused cleanly


def test_pool_bounds_running_and_waiting_requests() -> None:
    pool = ImageWorkPool(workers=1, queue=1, time_limit_s=0.5, retry_after_s=1)
    holding, release = threading.Event(), threading.Event()
    outcome: list[BaseException | None] = []

    def hold() -> None:
        with pool.slot():
            holding.set()
            release.wait(10)

    def wait_in_queue() -> None:
        try:
            with pool.slot():
                outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 — handed to the test
            outcome.append(exc)

    holder = threading.Thread(target=hold)
    holder.start()
    assert holding.wait(10)
    waiter = threading.Thread(target=wait_in_queue)
    waiter.start()
    time.sleep(0.1)  # the waiter is queued: the third request is refused at once
    started = time.monotonic()
    with pytest.raises(ServiceBusyError) as refused:
        with pool.slot():
            pass
    assert time.monotonic() - started < 0.2 and refused.value.retry_after == 1
    waiter.join(5)  # the queued one gave up when its time limit passed
    assert isinstance(outcome[0], ServiceBusyError)
    release.set()
    holder.join(5)
    with pool.slot():  # free again
        from faceaudit.engine.faces.budget import check_time

        check_time("a stage")  # within its time limit: no error
    with pytest.raises(TimeLimitError), pool.slot():
        time.sleep(0.6)
        check_time("a late stage")


@pytest.mark.timeout(300)
def test_one_key_beyond_its_uploads_gets_429_and_another_key_is_served(
        service_factory: Callable[..., Service]) -> None:
    from faceaudit.service.keys import KeyStore

    service = service_factory(ServiceSettings(uploads_per_key=1, image_workers=2, image_queue=4,
                                              busy_retry_after_s=4))
    register_passing_audit(service.home, "dlib-resnet:1")
    other = KeyStore(service.home).create("operator", "operator-2")[1]
    small = (faces_small() / "face_recognition-mit" / "obama.jpg").read_bytes()
    bomb = _bomb()
    with service.client(Role.OPERATOR) as client:  # load the models first
        assert _verify(client, small, small).status_code == 200
    refused: httpx.Response | None = None
    served: list[int] = []
    for _attempt in range(5):  # a loaded machine may finish the bomb before the second upload
        done = threading.Event()

        def occupy(done: threading.Event = done) -> None:
            with service.client(Role.OPERATOR) as client:
                _verify(client, bomb, bomb)
            done.set()

        thread = threading.Thread(target=occupy)
        thread.start()
        time.sleep(0.3)  # the bomb is uploaded and being decoded
        with service.client(Role.OPERATOR) as client, \
                httpx.Client(base_url=service.url, headers={"X-API-Key": other},
                             timeout=120) as second:
            while not done.is_set():
                response = _verify(client, small, small)
                if response.status_code == 429:
                    refused = response
                    served.append(_verify(second, small, small).status_code)
                    break
                time.sleep(0.05)
        thread.join(60)
        if refused is not None:
            break
    assert refused is not None, "the key's second upload was never refused"
    _is_problem(refused, 429)
    assert refused.json()["type"].endswith("/too-many-uploads")
    assert refused.headers["retry-after"] == "4"
    assert served == [200]  # another key is not held back by the first one's share
    with service.client(Role.OPERATOR) as client:  # the share is given back afterwards
        assert _verify(client, small, small).status_code == 200


def test_per_key_uploads_count_and_release() -> None:
    from faceaudit.service.errors import TooManyUploadsError
    from faceaudit.service.limits import PerKeyUploads

    uploads = PerKeyUploads(limit=2, retry_after_s=3)
    with uploads.hold("a"), uploads.hold("a"), uploads.hold("b"):
        with pytest.raises(TooManyUploadsError) as refused, uploads.hold("a"):
            pass
        assert refused.value.retry_after == 3 and refused.value.http_status == 429
    with uploads.hold("a"), uploads.hold("a"):
        pass  # both released


def _rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    pytest.skip("no /proc/self/status: RSS cannot be read here")


@pytest.mark.timeout(300)
def test_rss_returns_near_its_baseline_after_bursts_of_hostile_uploads(
        roomy_service: Service) -> None:
    # The server runs in this process: its RSS is ours. Three bursts of pixel bombs (full-size
    # decode: 120 MB of RGB each) from three clients at once; the memory they took must go
    # back, so the bursts do not stack up and what is left afterwards is bounded.
    register_passing_audit(roomy_service.home, "dlib-resnet:1")
    small = (faces_small() / "face_recognition-mit" / "obama.jpg").read_bytes()
    buffer = io.BytesIO()
    Image.new("RGB", (6300, 6300)).save(buffer, "PNG")
    bomb = buffer.getvalue()

    def attack() -> None:
        with roomy_service.client(Role.OPERATOR) as client:
            for _ in range(2):
                assert _verify(client, bomb, small).status_code == 422

    with roomy_service.client(Role.OPERATOR) as client:
        assert _verify(client, small, small).status_code == 200
        assert _verify(client, bomb, small).status_code == 422  # every path warmed once
        baseline = _rss_mb()
        after: list[float] = []
        for _ in range(3):
            threads = [threading.Thread(target=attack) for _ in range(3)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(120)
            after.append(_rss_mb())
        assert _verify(client, small, small).status_code == 200
    assert after[-1] - after[0] < 40, (baseline, after)  # bursts do not stack up
    assert after[-1] - baseline < 150, (baseline, after)  # far below 18 full-size decodes
