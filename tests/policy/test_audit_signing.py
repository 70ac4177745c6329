"""Auditor keys and signed reports, end to end: keygen, ``audit --sign``, registration."""

from __future__ import annotations

import json
import stat

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from typer.testing import CliRunner

from faceaudit.audit.signing import parse_signature, signature_holds
from faceaudit.cli import app
from faceaudit.engine.models.identity import backend_model_sha256
from faceaudit.ledger import Ledger
from faceaudit.ledger.signing import load_public_key
from faceaudit.policy import load_policy, policy_status, register_audit

runner = CliRunner()


def _run(*args):
    return runner.invoke(app, [str(a) for a in args])


def _embeddings(tmp_path, meta: dict):
    rng = np.random.default_rng(1)
    ident = np.repeat(np.arange(120), 3)
    emb = rng.standard_normal((120, 16))[ident] + 0.7 * rng.standard_normal((len(ident), 16))
    emb = (emb / np.linalg.norm(emb, axis=1, keepdims=True)).astype(np.float32)
    table = pa.table({
        "path": [f"p{i}/{k}.jpg" for k, i in enumerate(ident)],
        "identity": [f"p{i}" for i in ident],
        "embedding": pa.FixedSizeListArray.from_arrays(pa.array(emb.ravel()), 16),
    }).replace_schema_metadata({"faceaudit": json.dumps(meta)})
    pq.write_table(table, tmp_path / "e.parquet")
    rows = ["identity,sex"] + [f"p{i},{'female' if i % 2 else 'male'}" for i in range(120)]
    (tmp_path / "a.csv").write_text("\n".join(rows) + "\n")


def test_keygen_writes_a_private_key_only_its_owner_can_read(tmp_path):
    result = _run("auditor", "keygen", "--json", "--out", tmp_path / "k")
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    assert stat.S_IMODE((tmp_path / "k" / "auditor.key").stat().st_mode) == 0o600
    assert info["policy_entry"].startswith("ed25519:")
    assert len(info["key_id"]) == 16
    again = _run("auditor", "keygen", "--json", "--out", tmp_path / "k")
    assert again.exit_code == 2 and "refusing to overwrite" in again.output


def test_audit_sign_then_register(tmp_path, home):
    key = json.loads(_run("auditor", "keygen", "--json", "--out", tmp_path / "k").output)
    model = backend_model_sha256("dlib-resnet:1")
    assert model is not None
    _embeddings(tmp_path, {"backend_id": "dlib-resnet:1", "model_sha256": model})
    out = tmp_path / "audit"
    result = _run("audit", "--embeddings", tmp_path / "e.parquet", "--attributes",
                  tmp_path / "a.csv", "--by", "sex", "--fmr", "1e-2,1e-3", "--bootstrap", 0,
                  "--out", out, "--sign", key["private_key"])
    assert result.exit_code == 0, result.output
    data = (out / "report.json").read_bytes()
    assert json.loads(data)["provenance"]["model_sha256"] == model
    sig = parse_signature((out / "report.json.sig").read_bytes())
    assert sig.key_id == key["key_id"]
    assert signature_holds(data, sig, load_public_key(key["public_key"]))

    policy = tmp_path / "policy.toml"
    policy.write_text(f'[bias_gate]\ntrusted_auditor_keys = ["{key["policy_entry"]}"]\n')
    assert _run("policy", "set", policy, "--home", home.root).exit_code == 0
    assert load_policy(home).bias_gate.trusted_keys().keys() == {key["key_id"]}
    registered = register_audit(home, Ledger(home), out / "report.json", "auditor")
    assert registered["key_id"] == key["key_id"]
    status = policy_status(home, "dlib-resnet:1")
    assert status["audit_id"] == registered["audit_id"]
    assert status["allowed"] is registered["gate"]["passed"]


def test_audit_with_an_unusable_key_fails_before_auditing(tmp_path):
    _embeddings(tmp_path, {"backend_id": "dlib-resnet:1"})
    (tmp_path / "bad.key").write_text("not a key")
    result = _run("audit", "--embeddings", tmp_path / "e.parquet", "--attributes",
                  tmp_path / "a.csv", "--by", "sex", "--bootstrap", 0, "--out",
                  tmp_path / "audit", "--sign", tmp_path / "bad.key")
    assert result.exit_code == 2 and "bad.key" in result.output
    assert not (tmp_path / "audit" / "report.json").exists()


def test_auditor_sign_command_signs_an_existing_report(tmp_path):
    key = json.loads(_run("auditor", "keygen", "--json", "--out", tmp_path / "k").output)
    report = tmp_path / "report.json"
    report.write_text('{"schema": "faceaudit.audit/1"}')
    result = _run("auditor", "sign", report, "--key", key["private_key"])
    assert result.exit_code == 0, result.output
    sig = parse_signature((tmp_path / "report.json.sig").read_bytes())
    assert signature_holds(report.read_bytes(), sig, load_public_key(key["public_key"]))
    assert not signature_holds(report.read_bytes() + b" ", sig,
                               load_public_key(key["public_key"]))
