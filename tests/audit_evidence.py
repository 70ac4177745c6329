"""Audit evidence for tests: realistic report.json files, an auditor key, signed registration.

A deployment registers only signed audits of the model file it runs; these helpers make such
reports (per-group rates with their comparison counts, ``provenance.model_sha256`` of the real
dlib model file) and a key the home's policy trusts (installed with a logged policy change).
"""

from __future__ import annotations

import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from faceaudit.audit.signing import generate_auditor_key, sign_report
from faceaudit.base.home import Home
from faceaudit.engine.models.identity import backend_model_sha256
from faceaudit.ledger import Ledger
from faceaudit.policy import install_policy, register_audit

BACKEND = "dlib-resnet:1"


#: the relative half-width of the helpers' intervals (a large audit's: tight), and the
#: identities they rest on
SPREAD, IDENTITIES = 0.02, 200


def _estimate(value: float | None, spread: float = SPREAD,
              identities: int | None = IDENTITIES) -> dict:
    """An estimate with an interval ``value · (1 ∓ spread)`` (``spread`` None: no interval)."""
    if value is None or spread is None:
        return {"value": value, "low": None, "high": None, "note": None,
                "identities": identities}
    return {"value": value, "low": value * (1 - spread), "high": min(1.0, value * (1 + spread)),
            "note": None, "identities": identities}


def make_report(
    *,
    backend_id: str = BACKEND,
    created_at: datetime | None = None,
    fmr: dict[str, float] | None = None,
    fnmr: dict[str, float] | None = None,
    impostor_pairs: int | dict[str, int] = 5000,
    genuine_pairs: int = 400,
    target_fmr: float = 0.001,
    model_sha256: str | None = "real",
    input_kind: str = "embeddings",
    protocol: str = "exhaustive",
    rules: list[dict] | None = None,
    spread: float | dict[str, float] | None = SPREAD,
    identities: int | None = IDENTITIES,
) -> dict:
    """A faceaudit.audit/1 report whose summaries agree with its per-group rates.

    Each rate has the interval ``value · (1 ∓ spread)`` (per group when a dict; None: no
    interval) over ``identities`` identities. Defaults pass the default bias gate (FMR ratio
    1.2, FNMR ratio 1.1, both intervals within 2).
    """
    fmr = fmr if fmr is not None else {"female": 0.0012, "male": 0.001}
    fnmr = fnmr if fnmr is not None else {"female": 0.011, "male": 0.01}
    groups = list(fmr)
    model = backend_model_sha256(backend_id) if model_sha256 == "real" else model_sha256
    created = (created_at or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    fmrs, fnmrs = [v for v in fmr.values() if v], list(fnmr.values())
    return {
        "schema": "faceaudit.audit/1",
        "provenance": {"backend_id": backend_id, "model_sha256": model, "created_at": created,
                       "input_kind": input_kind, "protocol": protocol, "by": ["sex"],
                       "alpha": 0.5},
        "groups": groups,
        "targets": [{
            "target_fmr": target_fmr,
            "threshold": 0.6,
            "supported": True,
            "groups": [
                {"group": g, "supported": True,
                 "fmr": _estimate(fmr[g], spread.get(g, SPREAD) if isinstance(spread, dict)
                                  else spread, identities),
                 "fnmr": _estimate(fnmr[g], spread.get(g, SPREAD) if isinstance(spread, dict)
                                   else spread, identities),
                 "impostor_pairs": impostor_pairs if isinstance(impostor_pairs, int)
                 else impostor_pairs[g],
                 "genuine_pairs": genuine_pairs}
                for g in groups
            ],
            "summaries": {"fmr_ratio": _estimate(max(fmrs) / min(fmrs) if fmrs else None),
                          "fnmr_ratio": _estimate(max(fnmrs) / min(fnmrs))},
        }],
        "primary_target": target_fmr,
        "gate": {"passed": True, "rules": rules or []},
    }


def write_report(path: Path, report: dict) -> Path:
    """Write ``report`` as report.json bytes at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=1))
    return path


class Auditor:
    """An auditor key pair in ``folder``; ``trust(home)`` makes the home's policy trust it."""

    def __init__(self, folder: Path) -> None:
        self.info = generate_auditor_key(folder)
        self.key = Path(self.info["private_key"])
        self.key_id = self.info["key_id"]
        self.entry = self.info["policy_entry"]

    def policy_text(self, extra: str = "") -> str:
        """Policy TOML trusting this key (``extra`` lines go into ``[bias_gate]``)."""
        return f'[bias_gate]\ntrusted_auditor_keys = ["{self.entry}"]\n{extra}'

    def trust(self, home: Home, extra: str = "", actor: str = "admin") -> None:
        """Install a policy trusting this key (a logged policy change)."""
        path = home.ensure().root.parent / f"policy-{home.root.name}.toml"
        path.write_text(self.policy_text(extra))
        install_policy(home, Ledger(home), path, actor)

    def sign(self, report_path: Path) -> Path:
        """Sign ``report_path``; return the signature path."""
        return sign_report(report_path, self.key)

    def register(self, home: Home, report: dict, actor: str = "auditor",
                 folder: Path | None = None) -> dict:
        """Write, sign and register ``report`` with ``home``."""
        folder = folder or home.ensure().root.parent / "incoming"
        n = len(list(folder.glob("r*"))) if folder.exists() else 0
        path = write_report(folder / f"r{n}" / "report.json", report)
        self.sign(path)
        return register_audit(home, Ledger(home), path, actor)


def register_passing_audit(home: Home, backend_id: str = BACKEND,
                           actor: str = "auditor") -> dict:
    """Trust a fresh auditor key in ``home``'s policy and register a passing signed audit."""
    auditor = Auditor(Path(tempfile.mkdtemp(prefix="auditor-", dir=home.ensure().root.parent)))
    auditor.trust(home)
    return auditor.register(home, make_report(backend_id=backend_id), actor)


def _counted(errors: int, searches: int) -> dict:
    value = errors / searches
    return {"value": value, "low": value * (1 - SPREAD), "high": min(1.0, value * (1 + SPREAD)),
            "errors": errors, "comparisons": searches, "identities": IDENTITIES}


def make_identification_report(
    *,
    fpir: dict[str, tuple[int, int]] | None = None,
    fnir: dict[str, tuple[int, int]] | None = None,
    gallery_size: int = 2000,
    sizes: dict[int, dict[str, tuple[int, int]]] | None = None,
    target_fmr: float = 0.001,
    candidates: int = 10,
    threshold: float | None = None,
    backend_id: str = BACKEND,
    created_at: datetime | None = None,
    rules: list[dict] | None = None,
) -> dict:
    """A faceaudit.audit/2 identification report (``--mode identification``) whose per-group
    FPIR and FNIR are the given (errors, searches) counts at the audited gallery size, with
    further measured gallery sizes in ``sizes``; the threshold defaults to the one the
    deployment's shipped calibration gives at ``target_fmr``. Defaults pass the default gate
    (FPIR ratio 1.2, FNIR ratio 1.1)."""
    from faceaudit.engine.calibration import load_calibration

    fpir = fpir or {"female": (120, 1000), "male": (100, 1000)}
    fnir = fnir or {"female": (22, 1000), "male": (20, 1000)}
    if threshold is None:
        threshold = load_calibration(backend_id=backend_id).threshold_for(target_fmr)
    created = (created_at or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    groups = list(fpir)
    size_entries = [
        {"size": n, "measured": True, "groups": [
            {"group": g, "fpir": _counted(*counts[g]), "predicted_fpir": None} for g in groups]}
        for n, counts in sorted((sizes or {}).items())
    ] + [{"size": gallery_size, "measured": True, "groups": [
        {"group": g, "fpir": _counted(*fpir[g]), "predicted_fpir": None} for g in groups]}]
    ratio = max(e / n for e, n in fpir.values()) / min(e / n for e, n in fpir.values())
    return {
        "schema": "faceaudit.audit/2",
        "provenance": {"backend_id": backend_id, "model_sha256": backend_model_sha256(backend_id),
                       "created_at": created, "input_kind": "lfw", "protocol": "identification",
                       "by": ["sex"], "alpha": 0.5},
        "groups": groups,
        "targets": [],
        "primary_target": None,
        "identification": {
            "protocol": {"repeats": 20, "candidates": candidates, "gallery_templates": "one"},
            "gallery": {"subjects": gallery_size},
            "groups": groups,
            "operating_points": [{
                "target_fmr": target_fmr,
                "threshold": threshold,
                "candidates": candidates,
                "gallery_size": gallery_size,
                "groups": [{"group": g, "fpir": _counted(*fpir[g]), "fnir": _counted(*fnir[g]),
                            "non_mated_searches": fpir[g][1], "mated_searches": fnir[g][1]}
                           for g in groups],
                "summaries": {"fpir_ratio": {"value": ratio, "low": None, "high": None}},
                "gallery_sizes": size_entries,
            }],
        },
        "gate": {"passed": True, "rules": rules or []},
    }
