"""What a deployment knows about itself, for the pre-deployment accountability report (issue 23):
Washington RCW 43.386.020's accountability report and the EU AI Act Art. 27 fundamental rights
impact assessment. Plain data in, a dict of facts out — nothing is written, nothing inferred:

- ``engine``: the system and model (backend id, model name and version, the SHA-256 of every
  model file this installation loads, the runtime and its package versions, the operating
  point the shipped calibration gives at the policy's FMR target);
- ``audits``: every registered audit (newest evidence first) with its signer, the model file it
  measured, the registration's gate verdict and its per-group error rates with intervals
  exactly as the registered report holds them; ``audit_problems`` names a registration whose
  stored copy is missing or altered (left out of ``audits``); ``gate``: the bias gate's
  verdict now (:func:`faceaudit.policy.status.policy_status`);
- ``policy``: the policy in force (:meth:`Policy.to_dict`), its text's SHA-256 and how many
  policies have been in force;
- ``usage``: searches and verifications logged so far, by purpose, with the first and last;
- ``data``: where the gallery lives and how large it is, and the retention periods.

:mod:`faceaudit.deployment.accountability_report` turns the facts into the report.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

from faceaudit import __version__
from faceaudit.base.errors import FaceAuditError
from faceaudit.base.home import Home
from faceaudit.gallery.store import open_gallery_store
from faceaudit.ledger import Ledger
from faceaudit.ledger.signer import signer_summary
from faceaudit.policy.audits import AuditRecordError, load_registered, registered_audits
from faceaudit.policy.errors import AuditReportError
from faceaudit.policy.model import Policy, load_policy
from faceaudit.policy.status import policy_status

FORMAT = "faceaudit-accountability/1"

#: what each built-in backend runs: (model, runtime, packages whose versions matter)
BACKENDS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "dlib-resnet": ("dlib face recognition ResNet model v1 (128-d embeddings)",
                    "onnxruntime, from an ONNX conversion of the dlib model file",
                    ("onnxruntime", "dlib")),
    "dlib-native": ("dlib face recognition ResNet model v1 (128-d embeddings)",
                    "dlib's own C++ runtime", ("dlib",)),
    "onnx": ("an ArcFace-style ONNX embedding model given by the deployer",
             "onnxruntime", ("onnxruntime",)),
}

#: the model files each built-in backend loads, by their role (file names in
#: ``faceaudit.engine.models.files``)
MODEL_FILES: dict[str, tuple[tuple[str, str], ...]] = {
    "dlib-resnet": (("face recognition (embedding)", "FACE_RESNET"),
                    ("face landmarks (alignment)", "SHAPE_5")),
    "dlib-native": (("face recognition (embedding)", "FACE_RESNET"),
                    ("face landmarks (alignment)", "SHAPE_5")),
}


#: the distributions a package may be installed as
DISTRIBUTIONS = {"dlib": ("dlib", "dlib-bin")}


def _version(package: str) -> str | None:
    for name in DISTRIBUTIONS.get(package, (package,)):
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return None


def _model_files(name: str) -> list[dict[str, Any]]:
    from faceaudit.engine.models import files
    from faceaudit.engine.models.identity import file_sha256

    out = []
    for role, attribute in MODEL_FILES.get(name, ()):
        filename = getattr(files, attribute)
        try:
            digest: str | None = file_sha256(files.dlib_model_path(filename))
        except (OSError, FaceAuditError):
            digest = None
        out.append({"role": role, "file": filename, "sha256": digest})
    return out


def engine_facts(backend_id: str, fmr_target: float) -> dict[str, Any]:
    """The system and model behind ``backend_id``, and the threshold its shipped calibration
    gives at ``fmr_target`` (None, with the reason, when there is no calibration)."""
    from faceaudit.engine.calibration import load_calibration
    from faceaudit.engine.models.identity import backend_model_sha256

    name, _, version = backend_id.partition(":")
    model, runtime, packages = BACKENDS.get(name, ("unknown", "unknown", ()))
    threshold: float | None = None
    calibration_note = None
    try:
        calibration = load_calibration(backend_id=backend_id)
        threshold = float(calibration.threshold_for(fmr_target))
        calibration_note = calibration.source
    except FaceAuditError as exc:
        calibration_note = str(exc)
    return {
        "system": "faceaudit", "system_version": __version__,
        "backend_id": backend_id, "model_name": name, "model_version": version or None,
        "model": model, "runtime": runtime,
        "packages": {p: _version(p) for p in ("faceaudit", *packages)},
        "model_sha256": backend_model_sha256(backend_id),
        "model_files": _model_files(name),
        "fmr_target": fmr_target, "threshold": threshold, "calibration": calibration_note,
    }


def _group_rates(target: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"group": g.get("group"), "fmr": g.get("fmr"), "fnmr": g.get("fnmr"),
             "impostor_pairs": g.get("impostor_pairs"), "genuine_pairs": g.get("genuine_pairs")}
            for g in target.get("groups", [])]


def _identification_points(report: dict[str, Any]) -> list[dict[str, Any]]:
    points = (report.get("identification") or {}).get("operating_points") or []
    return [{"target_fmr": p.get("target_fmr"), "threshold": p.get("threshold"),
             "candidates": p.get("candidates"), "gallery_size": p.get("gallery_size"),
             "groups": [{"group": g.get("group"), "fpir": g.get("fpir"), "fnir": g.get("fnir")}
                        for g in p.get("groups", [])]}
            for p in points]


def audit_facts(home: Home, ledger: Ledger, events: list[dict[str, Any]],
                fmr_target: float) -> tuple[list[dict[str, Any]], list[str]]:
    """Every registered audit, newest evidence first, with its per-group rates as registered
    (``events``: the ledger's events, to read each registration's gate verdict); and one line
    per registration whose stored copy cannot be read back unchanged."""
    by_seq = {e["seq"]: e for e in events if e["action"] == "audit"}
    audits, problems = [], []
    for event in registered_audits(ledger):
        try:
            record = load_registered(home, event)
        except (AuditRecordError, AuditReportError) as exc:
            problems.append(str(exc))
            continue
        report, prov = record.report, record.report.get("provenance") or {}
        result = by_seq.get(event.seq, {}).get("result") or {}
        audits.append({
            "audit_id": event.audit_id, "backend_id": event.backend_id, "mode": event.mode,
            "created_at": event.created_at.isoformat(timespec="seconds"),
            "registered_at": event.registered_at.isoformat(timespec="seconds"),
            "registered_by": event.actor, "seq": event.seq, "signer_key_id": event.key_id,
            "model_sha256": event.model_sha256, "report_sha256": event.report_sha256,
            "input_kind": prov.get("input_kind"), "protocol": prov.get("protocol"),
            "by": prov.get("by") or [], "confidence": prov.get("confidence"),
            "groups": report.get("groups") or [],
            "gate_passed": result.get("gate_passed"), "gate_rule": result.get("gate_rule"),
            "targets": [{"target_fmr": t.get("target_fmr"), "threshold": t.get("threshold"),
                         "at_policy_point": t.get("target_fmr") == fmr_target,
                         "groups": _group_rates(t),
                         "summaries": {k: (t.get("summaries") or {}).get(k)
                                       for k in ("fmr_ratio", "fnmr_ratio")}}
                        for t in report.get("targets") or []],
            "identification": _identification_points(report),
        })
    return audits, problems


def usage_facts(events: list[dict[str, Any]]) -> dict[str, Any]:
    """Searches and verifications logged so far: how many, by purpose, first and last."""
    out: dict[str, Any] = {}
    for action in ("identify", "verify"):
        done = [e for e in events if e["action"] == action]
        out[action] = {
            "count": len(done),
            "by_purpose": dict(Counter(str(e.get("purpose")) for e in done).most_common()),
            "first": done[0]["time"] if done else None,
            "last": done[-1]["time"] if done else None,
        }
    out["refused"] = sum(1 for e in events if e["action"] == "refused")
    out["policy_changes"] = sum(1 for e in events if e["action"] == "policy_change")
    return out


def data_facts(home: Home, policy: Policy, backend_id: str) -> dict[str, Any]:
    """Where the gallery lives and how large it is, and how long each kind of data is kept."""
    store = open_gallery_store(home)
    subjects = store.list_subjects() if store.exists() else []
    expiring = sum(1 for s in subjects if any(c.get("expires_at") for c in s["consents"]))
    bases = Counter(c.get("legal_basis") for s in subjects for c in s["consents"][-1:])
    return {
        "gallery": {
            "storage": "PostgreSQL" if home.database_url_in_force() else "SQLite file",
            "subjects": len(subjects),
            "templates": sum(s["templates"] for s in subjects),
            "images_kept": sum(s["images"] for s in subjects),
            "searchable": store.subject_count(backend_id) if store.exists() else 0,
            "with_consent_expiry": expiring,
            "legal_bases": dict(sorted((str(k), v) for k, v in bases.items())),
        },
        "retention": {
            "probe_crop_hours": policy.review.probe_crop_hours,
            "urgent_deadline_hours": policy.authorisation.urgent_deadline_hours,
            "max_audit_age_days": policy.bias_gate.max_audit_age_days,
        },
    }


def accountability_facts(home: Home, backend_id: str, *,
                         now: datetime | None = None) -> dict[str, Any]:
    """Every fact the accountability report states about ``home`` deploying ``backend_id``
    (see the module docstring). Reads only; logs nothing."""
    now = now or datetime.now(UTC)
    ledger = Ledger(home)
    policy = load_policy(home)
    events = [e for e in ledger.events() if e["action"] != "intent"]
    audits, problems = audit_facts(home, ledger, events, policy.fmr_target)
    policy_text = home.policy_path.read_bytes() if home.policy_path.exists() else None
    return {
        "format": FORMAT,
        "generated_at": now.isoformat(timespec="seconds"),
        "engine": engine_facts(backend_id, policy.fmr_target),
        "audits": audits,
        "audit_problems": problems,
        "gate": policy_status(home, backend_id, policy=policy, now=now),
        "policy": {**policy.to_dict(),
                   "sha256": hashlib.sha256(policy_text).hexdigest() if policy_text else None,
                   "is_default": policy_text is None},
        "usage": usage_facts(events),
        "data": data_facts(home, policy, backend_id),
        "ledger": {"events": len(events), "first": events[0]["time"] if events else None,
                   "signer": signer_summary(home)},
    }
