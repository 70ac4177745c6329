"""Load test of the REST service over loopback: requests/s and p50/p99 latency.

Scenarios (each bounded by a request count and a time budget):

* ``verify``   — ``POST /v1/verify`` with two uploaded face images (detect + embed both);
* ``identify`` — ``POST /v1/identify`` of one face against a gallery of ``--gallery`` synthetic
  templates (128-D unit vectors, 10 per subject, enrolled through ``Deployment.enrol_templates``);
* ``healthz``  — ``GET /healthz``;
* ``hostile``  — the ``verify`` scenario again while one more client keeps uploading the worst
  file of the hostile set (a 6300 × 6300 PNG of zeros, 38 kB on disk, just under the 40 Mpx
  limit) to ``/v1/verify``: the p99 of the normal requests beside it shows whether one
  hostile upload can starve everyone else;
* ``slow``     — the ``verify`` scenario again while ``--slow-clients`` (40) clients send their
  headers (half of them) or their body (the other half) one byte a second: they must be cut off
  at the read deadlines and the normal requests must keep their p99;
* ``burst``    — the server's RSS before, right after and 5 s after ``--burst-seconds`` (60) of
  pixel-bomb uploads from ``--concurrency`` clients (read from ``/proc/<pid>/status``).

The service runs in its own process (``uvicorn``, one worker, as ``faceaudit serve`` runs it) on
127.0.0.1; the client sends from ``--concurrency`` threads. The deployment gets a registered
passing audit and a policy whose rate limits cannot trip, so every request does the full work
(policy check, ledger append, search). Usage::

    .venv/bin/python bench/load.py [--gallery 10000] [--concurrency 4] [--seconds 20]
                                   [--only verify,identify,healthz,hostile,slow,burst]
                                   [--slow-clients 40] [--burst-seconds 60] [--bursts 1]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np

from faceaudit.base.home import Home

SCENARIOS = ("verify", "identify", "healthz", "hostile", "slow", "burst")
FACES = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "faces-small"
BACKEND = "dlib-resnet:1"
PER_SUBJECT = 10
POLICY = """\
fmr_target = 0.001
max_candidates = 10
[required_fields]
identify = ["purpose", "case"]
verify = ["purpose"]
[rate_limits.identify]
max_events = 1000000000
window_hours = 1.0
[bias_gate]
max_fmr_ratio = 2.0
max_fnmr_ratio = 2.0
max_audit_age_days = 365
"""


def _calibration():
    """The shipped calibration, or (if none ships yet) a stand-in: latency does not depend on
    where the threshold lies."""
    from faceaudit import api
    from faceaudit.base.errors import CalibrationError
    from faceaudit.engine.calibration import Calibration

    try:
        return api.load_calibration(backend_id=BACKEND), "shipped"
    except CalibrationError:
        return Calibration(
            backend_id=BACKEND,
            threshold=np.array([0.0, 0.6, 0.8, 0.88, 0.92, 0.94, 0.96, 1.0]),
            fmr=np.array([1.0, 0.3, 0.03, 0.01, 1e-3, 1e-4, 1e-5, 1e-7]),
            n_impostor=100_000_000, source="bench stand-in",
        ), "stand-in (none ships yet)"


def prepare(home: Home, gallery: int) -> None:
    """Install the policy, register a passing audit, enrol ``gallery`` synthetic templates."""
    from faceaudit.audit.signing import generate_auditor_key, sign_report
    from faceaudit.deployment.operations import Deployment
    from faceaudit.engine.models.identity import backend_model_sha256
    from faceaudit.ledger import Ledger
    from faceaudit.policy import install_policy, register_audit

    ledger = Ledger(home)
    # A bench auditor key, trusted by the bench policy; the stand-in report below is signed
    # with it (registration refuses unsigned reports and recomputes the per-group numbers).
    key = generate_auditor_key(home.root / "bench-auditor")
    policy = home.root / "bench-policy.toml"
    policy.write_text(POLICY + f'trusted_auditor_keys = ["{key["policy_entry"]}"]\n',
                      encoding="utf-8")
    install_policy(home, ledger, policy, "bench")
    report = {
        "schema": "faceaudit.audit/1",
        "provenance": {"backend_id": BACKEND, "model_sha256": backend_model_sha256(BACKEND),
                       "input_kind": "embeddings",
                       "created_at": datetime.now(UTC).isoformat(timespec="seconds")},
        "groups": ["a", "b"], "primary_target": 0.001,
        "targets": [{"target_fmr": 0.001, "supported": True, "groups": [
            {"group": g, "supported": True, "fmr": {"value": fmr}, "fnmr": {"value": 0.02},
             "impostor_pairs": 10_000, "genuine_pairs": 500}
            for g, fmr in (("a", 0.001), ("b", 0.0011))]}],
        "gate": {"passed": True, "rules": []},
    }
    (home.root / "bench-report.json").write_text(json.dumps(report), encoding="utf-8")
    sign_report(home.root / "bench-report.json", Path(key["private_key"]))
    register_audit(home, ledger, home.root / "bench-report.json", "bench")
    deployment = Deployment(home, calibration=_calibration()[0])
    rng = np.random.default_rng(0)
    for start in range(0, gallery, PER_SUBJECT):
        vectors = rng.normal(size=(min(PER_SUBJECT, gallery - start), 128)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        deployment.enrol_templates(actor="bench", subject_id=f"syn-{start // PER_SUBJECT:06d}",
                                   backend_id=BACKEND, embeddings=vectors, basis="consent",
                                   evidence="synthetic")
        if start % 2000 == 0:
            print(f"  enrolled {start}/{gallery} templates", file=sys.stderr, flush=True)


def serve(home: Path, port: int) -> None:
    """Child process: run the service for ``home`` on 127.0.0.1:``port``."""
    import uvicorn

    from faceaudit.deployment.operations import Deployment
    from faceaudit.service.app import create_app
    from faceaudit.service.settings import ServiceSettings

    deployment = Deployment(Home(home), calibration=_calibration()[0])
    settings = ServiceSettings(rate_per_minute=1e9, burst=1_000_000, uploads_per_key=1000,
                               header_timeout_s=5, body_timeout_s=10)
    app = create_app(Home(home), settings, deployment=deployment)
    from faceaudit.service.server import server_config

    uvicorn.Server(server_config(app, host="127.0.0.1", port=port, log_level="warning",
                                 access_log=False)).run()


def run(name: str, send: Callable[[httpx.Client], httpx.Response], *, requests: int,
        seconds: float, concurrency: int, headers: dict[str, str], url: str) -> dict:
    """Send up to ``requests`` requests in at most ``seconds``; return the statistics."""
    latencies: list[float] = []
    failures: list[int] = []
    lock = threading.Lock()
    with httpx.Client(base_url=url, headers=headers, timeout=120) as client:
        warm = send(client)  # untimed: loads the model on the first scenario
        if warm.status_code >= 400:
            sys.exit(f"{name}: {warm.status_code} {warm.text}")
    deadline = time.monotonic() + seconds
    remaining = [requests]

    def worker() -> None:
        with httpx.Client(base_url=url, headers=headers, timeout=120) as client:
            while time.monotonic() < deadline:
                with lock:
                    if remaining[0] == 0:
                        return
                    remaining[0] -= 1
                start = time.perf_counter()
                response = send(client)
                elapsed = time.perf_counter() - start
                with lock:
                    latencies.append(elapsed)
                    if response.status_code >= 400:
                        failures.append(response.status_code)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    ms = sorted(x * 1000 for x in latencies)
    return {
        "scenario": name, "requests": len(ms), "errors": len(failures),
        "rps": len(ms) / wall if wall else 0.0,
        "p50": statistics.median(ms) if ms else float("nan"),
        "p99": ms[min(len(ms) - 1, int(round(0.99 * (len(ms) - 1))))] if ms else float("nan"),
    }


def main() -> None:
    """Prepare a home, start the service, run the scenarios, print a markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gallery", type=int, default=10_000, help="templates in the gallery")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=20.0, help="budget per scenario")
    parser.add_argument("--requests", type=int, default=400, help="max requests per scenario")
    parser.add_argument("--slow-clients", type=int, default=40)
    parser.add_argument("--burst-seconds", type=float, default=60.0,
                        help="length of the RSS burst of pixel bombs")
    parser.add_argument("--bursts", type=int, default=1,
                        help="RSS bursts one after the other (do they stack up?)")
    parser.add_argument("--only", default=",".join(SCENARIOS),
                        help=f"comma-separated scenarios among {', '.join(SCENARIOS)}")
    args = parser.parse_args()
    args.only = [name.strip() for name in args.only.split(",") if name.strip()]
    if unknown := set(args.only) - set(SCENARIOS):
        parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    if not FACES.is_dir():
        sys.exit(f"{FACES} is absent: the bench needs ../shared/data/faces-small")

    from faceaudit.service.keys import KeyStore

    with tempfile.TemporaryDirectory(prefix="faceaudit-load-") as tmp:
        home = Home(Path(tmp)).ensure()
        began = time.perf_counter()
        prepare(home, args.gallery)
        print(f"prepared {args.gallery} templates in {time.perf_counter() - began:.0f} s",
              file=sys.stderr)
        keys = KeyStore(home)
        operator = {"X-API-Key": keys.create("operator", "bench-operator")[1]}
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        url = f"http://127.0.0.1:{port}"
        child = subprocess.Popen([sys.executable, __file__, "--serve", tmp, str(port)],
                                 env={**os.environ, "PYTHONUNBUFFERED": "1"})
        try:
            _wait_up(url, child)
            rows = _scenarios(url, operator, args, child.pid)
        finally:
            child.terminate()
            child.wait(timeout=30)
    _print(rows, args)


def _scenarios(url: str, operator: dict[str, str], args: argparse.Namespace,
               pid: int) -> list[dict]:
    a = (FACES / "mdtf-cc-by-2.0" / "1.png").read_bytes()
    b = (FACES / "mdtf-cc-by-2.0" / "2.png").read_bytes()

    def verify(client: httpx.Client) -> httpx.Response:
        return client.post("/v1/verify", data={"purpose": "load test"},
                           files={"image_a": ("1.png", a), "image_b": ("2.png", b)})

    def identify(client: httpx.Client) -> httpx.Response:
        return client.post("/v1/identify", data={"purpose": "load test", "case": "bench"},
                           files={"image": ("2.png", b)})

    def healthz(client: httpx.Client) -> httpx.Response:
        return client.get("/healthz")

    common = {"seconds": args.seconds, "concurrency": args.concurrency, "url": url}
    rows = []
    if "verify" in args.only:
        rows.append(run("verify (2 uploaded images)", verify, requests=args.requests,
                        headers=operator, **common))
    if "identify" in args.only:
        rows.append(run(f"identify ({args.gallery:,} templates)", identify,
                        requests=args.requests, headers=operator, **common))
    if "healthz" in args.only:
        rows.append(run("healthz", healthz, requests=args.requests * 10, headers={}, **common))
    if "hostile" in args.only:
        rows.extend(_hostile(url, operator, verify, b, args))
    if "slow" in args.only:
        rows.extend(_slow(url, operator, verify, args))
    if "burst" in args.only:
        rows.extend(_burst(url, operator, b, args, pid) for _ in range(args.bursts))
    return rows


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _slow(url: str, operator: dict[str, str], verify: Callable[[httpx.Client], httpx.Response],
          args: argparse.Namespace) -> list[dict]:
    """Normal verify requests while ``--slow-clients`` clients send a byte a second."""
    host, port = url.removeprefix("http://").split(":")
    head = (f"POST /v1/verify HTTP/1.1\r\nHost: {host}\r\nX-API-Key: {operator['X-API-Key']}"
            "\r\nContent-Type: multipart/form-data; boundary=x\r\nContent-Length: 100000"
            "\r\n\r\n").encode()
    stop = threading.Event()
    cut: list[float] = []

    def slow_client(index: int) -> None:
        began = time.monotonic()
        with socket.create_connection((host, int(port))) as sock:
            pending = head if index % 2 else b"x" * 100_000
            if not index % 2:
                sock.sendall(head)
            sock.settimeout(1.0)
            while not stop.is_set() and pending:
                try:
                    sock.send(pending[:1])
                    pending = pending[1:]
                    if sock.recv(65536) == b"":
                        break
                except TimeoutError:
                    continue
                except OSError:
                    break
            else:
                return
        cut.append(time.monotonic() - began)

    threads = [threading.Thread(target=slow_client, args=(i,), daemon=True)
               for i in range(args.slow_clients)]
    for thread in threads:
        thread.start()
    flooded = time.monotonic()
    time.sleep(1.0)
    try:
        normal = run(f"verify beside {args.slow_clients} slow clients (1 byte/s)", verify,
                     requests=args.requests, seconds=args.seconds,
                     concurrency=args.concurrency, headers=operator, url=url)
    finally:
        time.sleep(max(0.0, flooded + 12.0 - time.monotonic()))  # past the 10 s body deadline
        stop.set()
        for thread in threads:
            thread.join(timeout=5)
    ms = sorted(x * 1000 for x in cut)
    row = {"scenario": f"the slow clients: {len(ms)} of {args.slow_clients} cut off (ms after"
                       " connecting)", "requests": len(ms), "errors": 0, "rps": float("nan"),
           "p50": statistics.median(ms) if ms else float("nan"),
           "p99": ms[-1] if ms else float("nan")}
    return [normal, row]


def _burst(url: str, operator: dict[str, str], b: bytes, args: argparse.Namespace,
           pid: int) -> dict:
    """The server's RSS before, right after and 5 s after a burst of pixel-bomb uploads."""
    bomb = pixel_bomb()
    before = _rss_mb(pid)
    deadline = time.monotonic() + args.burst_seconds
    sent = [0]

    def attacker() -> None:
        with httpx.Client(base_url=url, headers=operator, timeout=300) as client:
            while time.monotonic() < deadline:
                client.post("/v1/verify", data={"purpose": "load test"},
                            files={"image_a": ("bomb.png", bomb), "image_b": ("2.png", b)})
                sent[0] += 1

    threads = [threading.Thread(target=attacker) for _ in range(args.concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    after = _rss_mb(pid)
    time.sleep(5)
    later = _rss_mb(pid)
    print(f"server RSS: {before:.0f} MB before, {after:.0f} MB right after"
          f" {args.burst_seconds:g} s of pixel bombs ({sent[0]} uploads), {later:.0f} MB 5 s"
          " later", file=sys.stderr)
    return {"scenario": f"RSS (MB) before / after a {args.burst_seconds:g} s burst"
                        f" ({sent[0]} bombs): {before:.0f} / {after:.0f} / {later:.0f} (+5 s)",
            "requests": sent[0], "errors": 0, "rps": float("nan"), "p50": float("nan"),
            "p99": float("nan")}


def pixel_bomb() -> bytes:
    """The worst file of the hostile set: a 6300 × 6300 PNG of zeros (about 38 kB)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("L", (6300, 6300)).save(buffer, "PNG")
    return buffer.getvalue()


def _hostile(url: str, operator: dict[str, str], verify: Callable[[httpx.Client],
             httpx.Response], b: bytes, args: argparse.Namespace) -> list[dict]:
    """Normal verify requests while one more client uploads the pixel bomb, non-stop."""
    bomb = pixel_bomb()
    stop = threading.Event()
    hostile: list[tuple[float, int]] = []

    def attacker() -> None:
        with httpx.Client(base_url=url, headers=operator, timeout=300) as client:
            while not stop.is_set():
                start = time.perf_counter()
                try:
                    response = client.post("/v1/verify", data={"purpose": "load test"},
                                           files={"image_a": ("bomb.png", bomb),
                                                  "image_b": ("2.png", b)})
                    status = response.status_code
                except httpx.HTTPError:
                    status = 0
                hostile.append((time.perf_counter() - start, status))

    thread = threading.Thread(target=attacker, daemon=True)
    thread.start()
    time.sleep(1.0)  # the first bomb is in flight
    try:
        normal = run("verify (2 uploaded images) beside the pixel bomb", verify,
                     requests=args.requests, seconds=args.seconds,
                     concurrency=args.concurrency, headers=operator, url=url)
    finally:
        stop.set()
        thread.join(timeout=300)
    ms = sorted(x * 1000 for x, _ in hostile)
    statuses = sorted({status for _, status in hostile})
    bomb_row = {
        "scenario": f"the pixel bomb itself (answers: {', '.join(map(str, statuses))})",
        "requests": len(ms), "errors": sum(status >= 400 or status == 0 for _, status in hostile),
        "rps": float("nan"),
        "p50": statistics.median(ms) if ms else float("nan"),
        "p99": ms[min(len(ms) - 1, int(round(0.99 * (len(ms) - 1))))] if ms else float("nan"),
    }
    return [normal, bomb_row]


def _wait_up(url: str, child: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if child.poll() is not None:
            sys.exit("the service process exited")
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    sys.exit("the service did not come up")


def _print(rows: list[dict], args: argparse.Namespace) -> None:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    print(f"Machine: {cpu}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"one uvicorn worker on 127.0.0.1, {args.concurrency} client threads, "
          f"calibration: {_calibration()[1]}.\n")
    print("| scenario | requests | errors | requests/s | p50 (ms) | p99 (ms) |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['scenario']} | {r['requests']} | {r['errors']} | {r['rps']:.1f} | "
              f"{r['p50']:.1f} | {r['p99']:.1f} |")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        serve(Path(sys.argv[2]), int(sys.argv[3]))
    else:
        main()
