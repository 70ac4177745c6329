"""scripts/lfw_quality_table.py: the README's quality table comes from a report, not a hand."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _script():
    spec = importlib.util.spec_from_file_location("lfw_quality_table",
                                                  REPO / "scripts" / "lfw_quality_table.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_table_is_the_reports_and_goes_between_the_markers(tmp_path: Path) -> None:
    from test_quality_audit import _audit, _table

    report = _audit(_table())
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report))
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- lfw-quality:start -->\nold\n<!-- lfw-quality:end -->\nend\n")
    script = _script()
    assert script.main([str(path), "--write-readme", str(readme)]) == 0
    text = readme.read_text()
    assert "\nold\n" not in text and text.startswith("intro\n") and text.endswith("end\n")
    female = next(r for r in report["quality"]["distribution"] if r["group"] == "female")
    median = female["components"]["inter_eye_distance_px"]["median"]
    assert f"{median:.3g}" in text
    low = report["quality"]["fnmr_by_band"][0]["bands"][0]["groups"][0]["fnmr"]["value"]
    assert f"{low:.3g}" in text


def test_a_report_without_quality_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    path.write_text(json.dumps({"data": {"groups": []}}))
    with pytest.raises(SystemExit, match="no quality section"):
        _script().main([str(path)])
