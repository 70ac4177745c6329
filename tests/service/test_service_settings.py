"""The service's limits: set by FACEAUDIT_* environment variables or `faceaudit serve` flags,
validated before anything starts, shown in one start-up line, and enforced (max_pixels)."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from PIL import Image
from service_harness import Service, faces_small, register_passing_audit

from faceaudit.base.errors import InputDataError
from faceaudit.ledger.genesis import init_home
from faceaudit.service.keys import Role
from faceaudit.service.settings import ServiceSettings


def test_environment_sets_limits_and_flags_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACEAUDIT_RATE_PER_MINUTE", "600")
    monkeypatch.setenv("FACEAUDIT_MAX_UPLOAD_BYTES", "1000000")
    settings = ServiceSettings.load(max_upload_bytes=2_000_000, burst=None)
    assert settings.rate_per_minute == 600.0  # from the environment
    assert settings.max_upload_bytes == 2_000_000  # the flag wins
    assert settings.burst == ServiceSettings().burst  # None: not given, the default holds


@pytest.mark.parametrize(("field", "value"), [
    ("image_workers", 0), ("rate_per_minute", -1), ("image_queue", -1), ("max_pixels", 0),
])
def test_invalid_limits_are_refused_naming_flag_and_variable(field: str, value: int) -> None:
    with pytest.raises(InputDataError) as refused:
        ServiceSettings.load(**{field: value})
    flag, variable = "--" + field.replace("_", "-"), "FACEAUDIT_" + field.upper()
    assert refused.value.which == f"{flag} or {variable}"


def test_a_bad_environment_value_is_refused_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACEAUDIT_BURST", "many")
    with pytest.raises(InputDataError, match="burst"):
        ServiceSettings.load()


def test_max_pixels_refuses_a_smaller_image_than_the_engine_would(
    service_factory: Callable[..., Service],
) -> None:
    service = service_factory(ServiceSettings(max_pixels=500 * 500, rate_per_minute=1000,
                                              burst=100))
    register_passing_audit(service.home, "dlib-resnet:1")
    photo = faces_small() / "mdtf-cc-by-2.0" / "1.png"
    buffer = io.BytesIO()
    Image.new("RGB", (800, 600)).save(buffer, format="PNG")  # 0.48 Mpx: fine for the engine
    with service.client(Role.OPERATOR) as client:
        response = client.post("/v1/verify", data={"purpose": "test"},
                               files={"image_a": ("a.png", buffer.getvalue(), "image/png"),
                                      "image_b": ("b.png", photo.read_bytes(), "image/png")})
    assert response.status_code == 413, response.text
    assert response.json()["type"].endswith("/image-too-large")
    assert "250000" in response.json()["detail"]


def _serve(home: Path, *flags: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "faceaudit", "serve", "--home", str(home), *flags],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, **(env or {})},
    )


def test_serve_shows_its_limits_in_one_line_at_start_up(tmp_path: Path) -> None:
    init_home(tmp_path / "h")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = _serve(tmp_path / "h", "--port", str(port), "--burst", "7",
                  env={"FACEAUDIT_IMAGE_WORKERS": "3"})
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.communicate()[1]
                assert time.monotonic() < deadline, "serve did not come up"
                time.sleep(0.2)
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=30)
    limits = [line for line in stderr.splitlines() if "limits:" in line]
    assert len(limits) == 1, stderr
    assert "burst=7" in limits[0] and "image_workers=3" in limits[0]
    assert f"127.0.0.1:{port}" in limits[0]


def test_serve_refuses_a_bad_limit_before_starting(tmp_path: Path) -> None:
    init_home(tmp_path / "h")
    proc = _serve(tmp_path / "h", "--image-workers", "0")
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 2
    assert stderr.splitlines() == [
        "faceaudit: error: service limit image_workers: input should be greater than 0"
        " (--image-workers or FACEAUDIT_IMAGE_WORKERS)"]
