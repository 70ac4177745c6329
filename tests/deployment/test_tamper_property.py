"""Issue 21's property: random operations interleaved with random file-level mutations of the
home — the ledger, its heads, the gallery, the key store, the policy — never end with an
operation that relies on the mutated state succeeding, and never with `ledger verify` passing.

Each example copies a prepared home (file key outside it, a passing audit, three enrolled
subjects, an admin and an operator key), runs a few honest operations, applies one mutation an
insider could make with file access and the project's own hashing code, then runs every
operation: a ledger mutation must refuse them all; a gallery mutation the candidate check
identify and verify run; a key-store mutation authentication; a policy edit the policy load.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import audit_evidence
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ledger_raw import read_raw, rechain_raw
from typer.testing import CliRunner

from faceaudit.base.errors import FaceAuditError
from faceaudit.base.home import Home
from faceaudit.cli import app
from faceaudit.deployment.gallery_record import GalleryRecord, check_subjects
from faceaudit.deployment.operations import Deployment
from faceaudit.gallery.store import open_gallery_store
from faceaudit.ledger import Ledger
from faceaudit.ledger.genesis import init_home
from faceaudit.ledger.signing import generate_keypair
from faceaudit.policy.gate import evaluate_gate
from faceaudit.policy.model import load_policy
from faceaudit.service.keys import TOKEN_PREFIX, KeyStore, hash_token

BACKEND = "dlib-resnet:1"
SUBJECTS = ["s1", "s2", "s3"]
runner = CliRunner()


def _unit(seed: int) -> np.ndarray:
    vector = np.random.default_rng(seed).standard_normal(128).astype(np.float32)
    return vector / np.linalg.norm(vector)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> tuple[Path, Path, dict[str, str]]:
    """A prepared home to copy per example, its signing key and its tokens."""
    root = tmp_path_factory.mktemp("prepared")
    key = root / "keys" / "deployment.pem"
    generate_keypair(key, Home(root / "home").ensure().public_key_path)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FACEAUDIT_SIGNING_KEY", str(key))
        home = init_home(root / "home")
        audit_evidence.register_passing_audit(home)
        deployment = Deployment(home)
        for i, subject in enumerate(SUBJECTS):
            deployment.enrol_templates(actor="clerk", subject_id=subject, backend_id=BACKEND,
                                       embeddings=_unit(i)[None], basis="consent",
                                       evidence=f"form-{subject}")
        store = KeyStore(home)
        tokens = {role: store.create(role, f"{role}-1")[1] for role in ("admin", "operator")}
    return root / "home", key, tokens


def _sql(path: Path, statement: str, *args) -> None:
    with sqlite3.connect(path) as db:
        db.execute(statement, args)


def _events(home: Home) -> list[dict]:
    return [json.loads(line) for line in read_raw(Ledger(home)).split(b"\n")[:-1]]


def _flip_ledger(home: Home, which: int) -> None:
    events = _events(home)
    target = events[1 + which % (len(events) - 1)]
    target["actor"] = target["actor"] + "x"
    home.ledger_path.write_bytes(b"".join(
        json.dumps(e, separators=(",", ":"), sort_keys=True).encode() + b"\n" for e in events))


MUTATIONS = {
    "ledger-edit": ("ledger", _flip_ledger),
    "ledger-drop-tail": ("ledger", lambda h, w: rechain_raw(Ledger(h), _events(h)[:-1 - w % 3])),
    "ledger-forge-tail": ("ledger", lambda h, w: rechain_raw(Ledger(h), [*_events(h), {
        **_events(h)[-1], "action": "policy_change", "actor": "admin",
        "result": {"sha256": "ab" * 32, "previous_sha256": None}}])),
    "heads-deleted": ("ledger", lambda h, w: Ledger(h).sth_log.path.unlink()),
    "consent-edited": ("gallery", lambda h, w: _sql(
        h.db_path, "UPDATE consents SET expires_at = '2099-01-01T00:00:00+00:00' "
        "WHERE consent_id = ?", 1 + w % 3)),
    "ghost-subject": ("gallery", lambda h, w: (
        _sql(h.db_path, "INSERT INTO subjects(subject_id, created_at) VALUES ('ghost', 'x')"),
        _sql(h.db_path, "INSERT INTO templates(subject_pk, backend_id, embedding, created_at) "
             "SELECT (SELECT pk FROM subjects WHERE subject_id = 'ghost'), backend_id, "
             "embedding, created_at FROM templates WHERE template_id = ?", 1 + w % 3))),
    "template-moved": ("gallery", lambda h, w: _sql(
        h.db_path, "UPDATE templates SET subject_pk = (SELECT pk FROM subjects WHERE "
        "subject_id = ?) WHERE template_id = ?", SUBJECTS[(w + 1) % 3], 1 + w % 3)),
    "template-edited": ("gallery", lambda h, w: _sql(
        h.db_path, "UPDATE templates SET embedding = ? WHERE template_id = ?",
        _unit(99 + w).astype("<f4").tobytes(), 1 + w % 3)),
    "key-promoted": ("keys", lambda h, w: _sql(
        h.keys_path, "UPDATE api_keys SET role = 'admin' WHERE actor = 'operator-1'")),
    "key-minted": ("keys", lambda h, w: _sql(
        h.keys_path, "INSERT INTO api_keys VALUES ('mint', ?, 'admin', 'mallory', 'x', NULL)",
        hash_token(TOKEN_PREFIX + "m" * 43))),
    "policy-edited": ("policy", lambda h, w: h.policy_path.write_text(
        h.policy_path.read_text() + '\nwaived_because = "insider"\n'
        if h.policy_path.exists() else '[bias_gate]\nwaived_because = "insider"\n')),
}


def _honest(home: Home, deployment: Deployment, step: int) -> None:
    if step % 2:
        Ledger(home).append("officer", "refused", result={"rule": "demo", "step": step})
    else:
        deployment.enrol_templates(actor="clerk", subject_id=f"n{step}", backend_id=BACKEND,
                                   embeddings=_unit(1000 + step)[None], basis="consent",
                                   evidence="form")


def _relied_on(home: Home, tokens: dict[str, str], kind: str) -> list[str]:
    """Run every operation; return those that succeeded although they rely on ``kind``."""
    succeeded = []

    def attempt(name: str, operation) -> None:
        try:
            ok = operation()
        except FaceAuditError:
            return
        if ok:
            succeeded.append(name)

    subjects = [s["subject_id"] for s in open_gallery_store(home).list_subjects()]
    relies = {
        "append": ("ledger", lambda: Ledger(home).append("officer", "refused") is not None),
        "gate": ("ledger policy", lambda: evaluate_gate(load_policy(home), home, BACKEND,
                                                        datetime.now(UTC), Ledger(home)).passed),
        "candidates": ("ledger gallery", lambda: check_subjects(
            open_gallery_store(home), GalleryRecord(Ledger(home)), [*subjects, "ghost"])
            is None),
        "authenticate": ("ledger keys", lambda: any(
            (found := KeyStore(home).authenticate(t)) is not None and found.role.value == "admin"
            for t in [tokens["operator"], TOKEN_PREFIX + "m" * 43])),
    }
    for name, (depends, operation) in relies.items():
        if kind in depends.split():
            attempt(name, operation)
    return succeeded


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mutation=st.sampled_from(sorted(MUTATIONS)), before=st.integers(0, 3),
       which=st.integers(0, 10), after=st.integers(0, 2))
def test_no_operation_succeeds_on_a_mutated_home(prepared, tmp_path_factory, mutation, before,
                                                 which, after):
    source, key, tokens = prepared
    home = Home(tmp_path_factory.mktemp("example") / "home")
    shutil.copytree(source, home.root)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FACEAUDIT_SIGNING_KEY", str(key))
        deployment = Deployment(home)
        for step in range(before):
            _honest(home, deployment, step)
        assert _relied_on(home, tokens, "ledger") == ["append", "gate", "candidates"]
        kind, mutate = MUTATIONS[mutation]
        mutate(home, which)
        for step in range(after):  # operations after the mutation: each refused or unaffected
            try:
                _honest(home, Deployment(home), 10 + step)
            except FaceAuditError:
                pass
        assert _relied_on(home, tokens, kind) == [], mutation
        verified = runner.invoke(app, ["ledger", "verify", "--home", str(home.root)])
        if kind != "policy":  # a policy edit is refused on load, not by verify
            assert verified.exit_code == 4, (mutation, verified.output)
