import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from faceaudit.home import init_home
from faceaudit.ledger import Ledger


def _estimate(value):
    return {"value": value, "low": None, "high": None, "note": None}


def write_report(
    path: Path,
    *,
    backend_id: str = "dlib-resnet:1",
    created_at: datetime | None = None,
    fmr_ratio: float | None = 1.5,
    fnmr_ratio: float | None = 1.2,
    groups: tuple[str, ...] = ("female", "male"),
    unsupported: tuple[str, ...] = (),
    target_fmr: float = 0.001,
    gate_passed: bool = True,
) -> Path:
    """A minimal faceaudit.audit/1 report.json with the fields the bias gate reads."""
    created = (created_at or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    report = {
        "schema": "faceaudit.audit/1",
        "provenance": {"backend_id": backend_id, "created_at": created, "by": ["sex"]},
        "groups": list(groups),
        "targets": [
            {
                "target_fmr": target_fmr,
                "threshold": 0.6,
                "supported": True,
                "groups": [
                    {"group": g, "supported": g not in unsupported,
                     "fmr": _estimate(0.001), "fnmr": _estimate(0.01)}
                    for g in groups
                ],
                "summaries": {"fmr_ratio": _estimate(fmr_ratio),
                              "fnmr_ratio": _estimate(fnmr_ratio)},
            }
        ],
        "primary_target": target_fmr,
        "gate": {"passed": gate_passed, "rules": []},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report))
    return path


@pytest.fixture
def home(tmp_path):
    return init_home(tmp_path / "home")


@pytest.fixture
def ledger(home):
    return Ledger(home)


@pytest.fixture
def report_factory(tmp_path):
    counter = iter(range(10**6))

    def make(**kwargs) -> Path:
        return write_report(tmp_path / "reports" / f"r{next(counter)}" / "report.json", **kwargs)

    return make
