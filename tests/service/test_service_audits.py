"""Audits over HTTP: background jobs (embeddings and scores inputs), signed registration, the
latest evidence governing, the policy status, report pages."""

from __future__ import annotations

import io
import json
import time
from datetime import UTC, datetime

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from audit_evidence import Auditor, make_report
from service_harness import Service, faces_small

from faceaudit.engine.models.identity import backend_model_sha256
from faceaudit.ledger import Ledger
from faceaudit.service.keys import Role

BACKEND = "dlib-resnet:1"


def _embeddings(backend_id: str = BACKEND) -> tuple[bytes, bytes]:
    """A Parquet of 400 synthetic unit templates (80 identities, 2 groups) and attributes."""
    rng = np.random.default_rng(3)
    dim, rows, labels = 32, [], {}
    for i in range(80):
        sex = ("female", "male")[i % 2]
        centre = rng.normal(size=dim)
        for k in range(5):
            v = centre + rng.normal(scale=0.7, size=dim)
            rows.append((f"id{i:03d}/img{k}.jpg", f"id{i:03d}", v / np.linalg.norm(v)))
        labels[f"id{i:03d}"] = sex
    table = pa.table({
        "path": [r[0] for r in rows],
        "identity": [r[1] for r in rows],
        "embedding": pa.array([r[2].astype(np.float32) for r in rows],
                              type=pa.list_(pa.float32(), dim)),
    }).replace_schema_metadata({"faceaudit": json.dumps({
        "backend_id": backend_id, "model_sha256": backend_model_sha256(backend_id)})})
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    attributes = "identity,sex\n" + "".join(f"{k},{v}\n" for k, v in labels.items())
    return buffer.getvalue(), attributes.encode()


def _scores() -> bytes:
    rng = np.random.default_rng(5)
    lines = ["score,genuine,group_a,group_b"]
    for group in ("a", "b"):
        lines += [f"{s:.4f},1,{group},{group}" for s in rng.normal(0.8, 0.05, 300)]
        lines += [f"{s:.4f},0,{group},{group}" for s in rng.normal(0.3, 0.1, 4000)]
    return ("\n".join(lines) + "\n").encode()


def _wait(client: httpx.Client, job_id: str) -> dict:
    deadline = time.monotonic() + 120
    while True:
        status = client.get(f"/v1/audits/{job_id}").json()
        if status["status"] in ("done", "failed") or time.monotonic() > deadline:
            return status
        time.sleep(0.2)


def _register(client: httpx.Client, report: bytes, signature: bytes | None) -> httpx.Response:
    files = {"report": ("report.json", report)}
    if signature is not None:
        files["signature"] = ("report.json.sig", signature)
    return client.post("/v1/audits/register", files=files)


def _signed(auditor: Auditor, tmp_path, report: bytes) -> tuple[bytes, bytes]:
    path = tmp_path / f"r{len(list(tmp_path.iterdir()))}" / "report.json"
    path.parent.mkdir()
    path.write_bytes(report)
    return report, auditor.sign(path).read_bytes()


def test_embeddings_audit_job_then_signed_registration(service: Service, tmp_path) -> None:
    auditor = Auditor(tmp_path / "key")
    auditor.trust(service.home)
    parquet, attributes = _embeddings()
    with service.client(Role.AUDITOR) as client:
        started = client.post("/v1/audits", data={"by": "sex", "fmr": "1e-2,1e-3",
                                                  "bootstrap": "50", "fail_if": "fmr_ratio>50"},
                              files={"embeddings": ("emb.parquet", parquet),
                                     "attributes": ("attrs.csv", attributes)})
        assert started.status_code == 202, started.text
        job = started.json()
        assert job["status"] in ("queued", "running") and job["actor"] == "auditor-1"
        status = _wait(client, job["job_id"])
        assert status["status"] == "done", status
        report = status["report"]
        assert report["schema"] == "faceaudit.audit/2"
        assert report["provenance"]["backend_id"] == BACKEND
        assert report["provenance"]["model_sha256"] == backend_model_sha256(BACKEND)
        assert [r["expression"] for r in report["gate"]["rules"]] == ["fmr_ratio>50"]
        # The service does not sign: its report counts only once an auditor signs it.
        assert status["result"] == {"registered": None, "refused": {
            "rule": "audit-unsigned", "detail": status["result"]["refused"]["detail"]}}

        html = client.get(f"/v1/audits/{job['job_id']}/report.html")
        assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
        assert "<html" in html.text
        raw = client.get(f"/v1/audits/{job['job_id']}/report.json")
        assert raw.status_code == 200 and json.loads(raw.content) == report

        unsigned = _register(client, raw.content, None)
        assert unsigned.status_code == 422
        assert unsigned.headers["content-type"] == "application/problem+json"
        assert unsigned.json()["rule"] == "audit-unsigned"
        registered = _register(client, *_signed(auditor, tmp_path, raw.content))
        assert registered.status_code == 201, registered.text
        registered = registered.json()
        assert registered["backend_id"] == BACKEND and registered["key_id"] == auditor.key_id

        page = client.get("/auditor")
        assert page.status_code == 200
        assert BACKEND in page.text and registered["audit_id"] in page.text
        assert auditor.key_id in page.text
        shown = client.get(f"/auditor/audits/{registered['audit_id']}/report.html")
        assert shown.status_code == 200 and "<html" in shown.text

    events = [e for e in Ledger(service.home).events() if e["action"] in ("audit", "refused")]
    assert [(e["action"], e["actor"], e["result"]["rule"] if e["action"] == "refused" else None)
            for e in events] == [("refused", "auditor-1", "audit-unsigned"),
                                 ("refused", "auditor-1", "audit-unsigned"),
                                 ("audit", "auditor-1", None)]
    assert events[-1]["result"]["audit_id"] == registered["audit_id"]


def test_job_result_has_one_verdict_where_unsigned_audits_are_allowed(service: Service,
                                                                      tmp_path) -> None:
    Auditor(tmp_path / "key").trust(service.home, "allow_unsigned_audits = true\n")
    parquet, attributes = _embeddings()
    with service.client(Role.AUDITOR) as client:
        job = client.post("/v1/audits", data={"by": "sex", "fmr": "1e-2,1e-3",
                                              "bootstrap": "0", "fail_if": "fnmr_ratio>1.5"},
                          files={"embeddings": ("emb.parquet", parquet),
                                 "attributes": ("attrs.csv", attributes)}).json()
        status = _wait(client, job["job_id"])
    assert status["status"] == "done", status
    result = status["result"]
    assert set(result) == {"registered", "refused"} and result["refused"] is None
    # without a bootstrap no rate has an interval: the auditor's own rule is insufficient, and
    # so is the recomputed verdict (never a pass): one truth
    assert status["report"]["gate"]["passed"] is False
    assert status["report"]["gate"]["verdict"] == "insufficient"
    assert result["registered"]["gate"]["passed"] is False
    assert result["registered"]["gate"]["rule"] == "audit-insufficient"
    assert "no interval" in result["registered"]["gate"]["detail"]


def test_scores_audit_job_is_refused_registration(service: Service) -> None:
    with service.client(Role.AUDITOR) as client:
        started = client.post("/v1/audits", data={"bootstrap": "0", "fmr": "1e-2"},
                              files={"scores": ("scores.csv", _scores())})
        assert started.status_code == 202, started.text
        status = _wait(client, started.json()["job_id"])
    assert status["status"] == "done", status
    assert status["result"]["registered"] is None
    assert status["result"]["refused"]["rule"] == "audit-not-model"
    assert status["report"]["provenance"]["input_kind"] == "scores"
    last = list(Ledger(service.home).events())[-1]
    assert last["action"] == "refused" and last["result"]["rule"] == "audit-not-model"


def _pad_scores() -> bytes:
    """A 0–1 PAD score (lower means attack) for two groups of 30 subjects."""
    rng = np.random.default_rng(9)
    lines = ["score,presentation,group,subject"]
    for group in ("a", "b"):
        for s in range(30):
            lines += [f"{x:.3f},bona_fide,{group},{group}{s}" for x in rng.uniform(0.3, 1, 4)]
            lines += [f"{x:.3f},print,{group},{group}{s}" for x in rng.uniform(0, 0.6, 4)]
    return ("\n".join(lines) + "\n").encode()


def test_pad_audit_job_reports_and_is_refused_registration(service: Service) -> None:
    with service.client(Role.AUDITOR) as client:
        started = client.post("/v1/audits", data={"bootstrap": "50", "lower_is_attack": "true",
                                                  "fail_if": "bpcer_ratio>100"},
                              files={"pad_scores": ("pad.csv", _pad_scores())})
        assert started.status_code == 202, started.text
        status = _wait(client, started.json()["job_id"])
        both = client.post("/v1/audits", files={"pad_scores": ("pad.csv", _pad_scores()),
                                                "scores": ("s.csv", _scores())})
    assert status["status"] == "done", status
    report = status["report"]
    assert report["provenance"]["input_kind"] == "pad"
    assert report["pad"]["convention"]["accepted_as_bona_fide"] == "score >= threshold"
    assert [p["label"] for p in report["pad"]["operating_points"]] == [
        "BPCER100", "BPCER20", "BPCER10"]
    assert report["gate"]["rules"][0]["expression"] == "bpcer_ratio>100"
    # a vendor's PAD, no model: registered under its PAD system once signed (the service does
    # not sign, so the job's report is refused as unsigned: tests/service/test_service_pad_gate)
    assert status["result"]["refused"]["rule"] == "audit-unsigned"
    assert both.status_code == 422 and "exactly one input" in both.text


def test_passing_then_failing_registration_revokes_identification(service: Service,
                                                                  tmp_path) -> None:
    auditor = Auditor(tmp_path / "key")
    auditor.trust(service.home)
    image = (faces_small() / "mdtf-cc-by-2.0" / "2.png").read_bytes()
    passing = json.dumps(make_report()).encode()
    failing = json.dumps(make_report(fmr={"female": 0.00344, "male": 0.001})).encode()
    search = {"data": {"purpose": "fraud check", "case": "C-17"},
              "files": {"image": ("2.png", image)}}
    with service.client(Role.AUDITOR) as auditor_client, \
            service.client(Role.OPERATOR) as operator:
        before = operator.get("/v1/policy/status").json()
        assert before["allowed"] is False and before["rule"] == "no-audit"
        first = _register(auditor_client, *_signed(auditor, tmp_path, passing)).json()
        status = operator.get("/v1/policy/status").json()
        assert status["allowed"] is True and status["audit_id"] == first["audit_id"]
        assert status["sentence"].startswith(f"Identification with {BACKEND} is allowed now")
        assert operator.post("/v1/identify", **search).status_code == 200

        second = _register(auditor_client, *_signed(auditor, tmp_path, failing))
        assert second.status_code == 201 and second.json()["gate"]["passed"] is False
        refused = operator.post("/v1/identify", **search)
        assert refused.status_code == 403 and refused.json()["rule"] == "audit-fmr-ratio"
        status = operator.get("/v1/policy/status").json()
        assert status["allowed"] is False and status["audit_id"] == second.json()["audit_id"]
        assert "3.44" in status["sentence"]
        page = auditor_client.get("/auditor")
        assert page.status_code == 200 and status["sentence"] in page.text.replace("&#39;", "'")


def test_bad_reports_are_refused_and_the_auditor_page_stays_up(service: Service,
                                                                tmp_path) -> None:
    auditor = Auditor(tmp_path / "key")
    auditor.trust(service.home)
    no_targets = make_report()
    no_targets["targets"] = []
    future = make_report(created_at=datetime(2099, 1, 1, tzinfo=UTC))
    relabelled = make_report(input_kind="scores", model_sha256=None)
    with service.client(Role.AUDITOR) as client:
        for report, rule in ((no_targets, "audit-target-missing"), (future, "audit-future"),
                             (relabelled, "audit-not-model")):
            answer = _register(client, *_signed(auditor, tmp_path, json.dumps(report).encode()))
            assert answer.status_code == 422, answer.text
            assert answer.json()["rule"] == rule
        not_a_report = _register(client, b"[]", None)
        assert not_a_report.status_code == 422
        assert not_a_report.json()["type"].endswith("audit-report-invalid")
        assert client.post("/v1/audits/register").status_code == 422
        # a registered minimal report (no DET, no histograms) still renders a page
        ok = _register(client, *_signed(auditor, tmp_path, json.dumps(make_report()).encode()))
        assert ok.status_code == 201
        # a stray file in audits/ is not an audit and breaks nothing
        stray = service.home.audits_dir / "ffffffffffffffff" / "report.json"
        stray.parent.mkdir(parents=True)
        stray.write_text(json.dumps(no_targets))
        page = client.get("/auditor")
        assert page.status_code == 200 and "ffffffffffffffff" not in page.text
        assert client.get(f"/auditor/audits/{ok.json()['audit_id']}/report.html").status_code \
            == 200
        assert client.get("/auditor/audits/ffffffffffffffff/report.html").status_code == 404


def test_bad_audit_inputs(service: Service) -> None:
    with service.client(Role.AUDITOR) as client:
        neither = client.post("/v1/audits", data={"by": "sex"})
        no_attributes = client.post("/v1/audits", data={"by": "sex"},
                                    files={"embeddings": ("e.parquet", b"x")})
        bad_fmr = client.post("/v1/audits", data={"fmr": "often"},
                              files={"scores": ("s.csv", b"x")})
        garbage = client.post("/v1/audits", data={"by": "sex"},
                              files={"embeddings": ("e.parquet", b"not parquet"),
                                     "attributes": ("a.csv", b"identity,sex\n")})
        assert garbage.status_code == 202
        failed = _wait(client, garbage.json()["job_id"])
        unknown = client.get("/v1/audits/ffffffffffffffff")
        not_ready = client.get(f"/v1/audits/{garbage.json()['job_id']}/report.html")
    assert neither.status_code == no_attributes.status_code == bad_fmr.status_code == 422
    assert failed["status"] == "failed"
    assert failed["error"]["code"] == "audit-input-error"
    assert unknown.status_code == 404 and not_ready.status_code == 404
    assert httpx.get(service.url + "/healthz").status_code == 200
