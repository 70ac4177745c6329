"""Background audit jobs over HTTP: embeddings and scores inputs, registration, report pages."""

from __future__ import annotations

import io
import json
import time

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from service_harness import Service

from faceaudit.ledger import Ledger
from faceaudit.service.keys import Role

BACKEND = "synthetic:1"


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
    }).replace_schema_metadata({"faceaudit": json.dumps({"backend_id": backend_id})})
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


def test_embeddings_audit_job_is_registered_and_shown(service: Service) -> None:
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
        assert [r["expression"] for r in report["gate"]["rules"]] == ["fmr_ratio>50"]
        registered = status["result"]["registered"]
        assert registered["backend_id"] == BACKEND

        html = client.get(f"/v1/audits/{job['job_id']}/report.html")
        assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
        assert "<html" in html.text

        page = client.get("/auditor")
        assert page.status_code == 200
        assert BACKEND in page.text and registered["audit_id"] in page.text
        shown = client.get(f"/auditor/audits/{registered['audit_id']}/report.html")
        assert shown.status_code == 200 and "<html" in shown.text

    events = [e for e in Ledger(service.home).events() if e["action"] == "audit"]
    assert [(e["actor"], e["backend_id"]) for e in events] == [("auditor-1", BACKEND)]
    assert events[0]["result"]["audit_id"] == registered["audit_id"]


def test_scores_audit_job_is_logged_but_not_registered(service: Service) -> None:
    with service.client(Role.AUDITOR) as client:
        started = client.post("/v1/audits", data={"bootstrap": "0", "fmr": "1e-2"},
                              files={"scores": ("scores.csv", _scores())})
        assert started.status_code == 202, started.text
        status = _wait(client, started.json()["job_id"])
    assert status["status"] == "done", status
    assert status["result"]["registered"] is None
    assert status["report"]["provenance"]["input_kind"] == "scores"
    last = list(Ledger(service.home).events())[-1]
    assert last["action"] == "audit" and last["result"]["registered"] is False


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
