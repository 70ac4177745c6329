"""Models side by side on real faces: 40 LFW identities (20 women, 20 men, two images each).

The same network through two backends (the ONNX conversion ``dlib-resnet`` and dlib's own
``dlib-native``) must differ by nothing these data can detect; a deliberately degraded copy of
the templates (Gaussian noise added, a second Parquet) must differ by an interval that
excludes zero.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from faceaudit.cli import app
from faceaudit.engine.embed_files import embed_dataset

PER_GROUP = 20
REPO = Path(__file__).resolve().parents[2]


def _load_tool():
    """scripts/compare_models.py as a module (its LFW subset and noisy copy)."""
    spec = importlib.util.spec_from_file_location(
        "compare_models", REPO / "scripts" / "compare_models.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


TOOL = _load_tool()
NOISE = 0.05  # per-dimension standard deviation added to unit-norm 128-d templates


def audit(*args):
    return CliRunner().invoke(app, ["audit", *(str(a) for a in args)])


@pytest.fixture(scope="module")
def subset(tmp_path_factory, shared_data) -> Path:
    if not (shared_data / "lfw").is_dir():
        pytest.skip("LFW is absent from ../shared/data")
    out = tmp_path_factory.mktemp("lfw")
    return TOOL.lfw_subset(shared_data / "lfw", shared_data / "lfw-meta", out, PER_GROUP)


def _differences(report: dict) -> list[dict]:
    return [
        d | {"metric": r["metric"], "group": r["group"]}
        for t in report["comparison"]["targets"]
        for r in t["rows"]
        for d in r["differences"]
    ]


def test_the_same_model_through_two_backends_differs_by_nothing_detectable(subset, tmp_path):
    result = audit(
        subset / "images", "--attributes", subset / "attributes.csv", "--by", "sex",
        "--backend", "dlib-resnet", "--backend", "dlib-native",
        "--fmr", "1e-2", "--bootstrap", 300, "--out", tmp_path / "out",
    )
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    cmp = report["comparison"]
    assert [m["name"] for m in cmp["models"]] == ["dlib-resnet", "dlib-native"]
    assert cmp["paired"] is True
    assert cmp["models"][1]["backend_id"].startswith("dlib-native")
    assert report["data"]["templates"] == 4 * PER_GROUP
    diffs = _differences(report)
    rates = [d for d in diffs if d["group"] is not None]
    assert len(rates) == 6  # FMR, FNMR, accuracy × 2 groups
    for d in diffs:
        assert not d["excludes_zero"], d
    for d in rates:
        assert d["low"] <= 0 <= d["high"], d
        assert abs(d["value"]) < 0.02, d
    thresholds = [m["threshold"] for m in cmp["targets"][0]["models"]]
    assert abs(thresholds[0] - thresholds[1]) < 0.01


def test_a_degraded_copy_differs_by_an_interval_that_excludes_zero(subset, tmp_path):
    table = embed_dataset(subset / "images", backend="dlib-resnet", progress=False)
    clean = tmp_path / "dlib-resnet.parquet"
    pq.write_table(table, clean)
    pq.write_table(TOOL.noisy_copy(table, NOISE, seed=0), tmp_path / "noisy.parquet")
    result = audit(
        "--embeddings", clean, "--embeddings", tmp_path / "noisy.parquet",
        "--attributes", subset / "attributes.csv", "--by", "sex",
        "--fmr", "1e-2", "--bootstrap", 300, "--out", tmp_path / "out",
    )
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    fnmr = [d for d in _differences(report) if d["metric"] == "fnmr"]
    assert {d["model"] for d in fnmr} == {"noisy"}
    assert any(d["excludes_zero"] and d["low"] > 0 for d in fnmr), fnmr
    assert all(d["value"] >= 0 for d in fnmr), fnmr
