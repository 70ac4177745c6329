"""Image quality in the audit: per-group quartiles and FNMR by quality band, against a brute
force count on a synthetic set whose poor images are, by construction, harder to match."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest
from rich.console import Console

from faceaudit.audit.html import render_html
from faceaudit.audit.inputs import Attributes, embeddings_from_table
from faceaudit.audit.quality_rates import BAND_COMPONENTS, band_of, genuine_pairs
from faceaudit.audit.quality_terminal import print_quality
from faceaudit.audit.run import audit_embeddings
from faceaudit.audit.settings import AuditSettings

N_IDS, PER_ID = 90, 3


def _table(with_quality: bool = True) -> pa.Table:
    rng = np.random.default_rng(7)
    ident = np.repeat(np.arange(N_IDS), PER_ID)
    ied = rng.uniform(12, 100, len(ident))
    ied[ident % 2 == 1] *= 0.7  # one group's photos are smaller
    sharp = rng.uniform(0.02, 0.4, len(ident))
    noise = 0.25 + 1.6 * (ied < 35)  # small faces are hard to match
    centres = rng.standard_normal((N_IDS, 64))
    emb = centres[ident] / 8 + noise[:, None] * rng.standard_normal((len(ident), 64)) / 8
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    columns = {
        "path": [f"p{i}/{k}.jpg" for k, i in enumerate(ident)],
        "identity": [f"p{i}" for i in ident],
        "embedding": pa.array(emb.astype(np.float32).tolist(), pa.list_(pa.float32(), 64)),
    }
    if with_quality:
        columns["quality_inter_eye_distance_px"] = pa.array(ied.astype(np.float32))
        columns["quality_sharpness"] = pa.array(sharp.astype(np.float32))
        columns["quality_yaw_deg"] = pa.array(rng.normal(0, 10, len(ident)).astype(np.float32))
    return pa.table(columns)


def _attributes() -> Attributes:
    return Attributes("identity", {f"p{i}": {"sex": "female" if i % 2 else "male"}
                                   for i in range(N_IDS)}, ["sex"])


def _audit(table: pa.Table) -> dict:
    emb = embeddings_from_table(table, "synthetic")
    report = audit_embeddings(emb, _attributes(), ["sex"], AuditSettings(targets=[1e-2], reps=60),
                              input_kind="embeddings", input_path="synthetic")
    return json.loads(json.dumps(report, allow_nan=False))  # what report.json holds


@pytest.fixture(scope="module")
def report() -> dict:
    return _audit(_table())


def test_distribution_is_each_groups_quartiles(report: dict) -> None:
    table = _table()
    ied = table.column("quality_inter_eye_distance_px").to_numpy().astype(np.float64)
    female = np.array([int(p[1:]) % 2 == 1 for p in table.column("identity").to_pylist()])
    section = report["quality"]
    assert section["components"] == ["inter_eye_distance_px", "sharpness", "yaw_deg"]
    rows = {row["group"]: row for row in section["distribution"]}
    assert list(rows) == report["groups"]
    for group, mask in (("female", female), ("male", ~female)):
        got = rows[group]["components"]["inter_eye_distance_px"]
        q1, median, q3 = np.quantile(ied[mask], [0.25, 0.5, 0.75])
        assert (got["q1"], got["median"], got["q3"]) == pytest.approx((q1, median, q3))
        assert got["measured"] == rows[group]["templates"] == mask.sum()
    assert rows["female"]["components"]["inter_eye_distance_px"]["median"] \
        < rows["male"]["components"]["inter_eye_distance_px"]["median"]


def test_fnmr_by_band_matches_a_brute_force_count(report: dict) -> None:
    table = _table()
    emb = embeddings_from_table(table, "synthetic")
    ids = np.array(emb.identities)
    group = np.array(["female" if int(i[1:]) % 2 else "male" for i in ids])
    section = report["quality"]
    threshold = section["threshold"]
    primary = next(t for t in report["targets"] if t["target_fmr"] == report["primary_target"])
    assert threshold == primary["threshold"]
    assert [entry["component"] for entry in section["fnmr_by_band"]] == list(BAND_COMPONENTS)
    for entry in section["fnmr_by_band"]:
        values = emb.quality[entry["component"]]
        edges = np.quantile(values, [1 / 3, 2 / 3])
        assert entry["edges"] == pytest.approx(edges)
        band = np.searchsorted(edges, values, side="right")
        for b, cell in enumerate(entry["bands"]):
            for g in cell["groups"]:
                pairs = misses = 0
                for i in range(len(ids)):
                    for j in range(i + 1, len(ids)):
                        if ids[i] != ids[j] or group[i] != g["group"]:
                            continue
                        if min(band[i], band[j]) != b:
                            continue
                        pairs += 1
                        misses += float(emb.matrix[i] @ emb.matrix[j]) < threshold
                fnmr = g["fnmr"]
                assert (fnmr["comparisons"], fnmr["errors"]) == (pairs, misses)
                if pairs:
                    assert fnmr["value"] == pytest.approx(misses / pairs)
                if fnmr["low"] is not None:
                    assert fnmr["low"] <= fnmr["value"] <= fnmr["high"]


def test_poor_images_show_as_a_higher_fnmr_in_the_low_band(report: dict) -> None:
    by_ied = report["quality"]["fnmr_by_band"][0]
    assert by_ied["component"] == "inter_eye_distance_px"
    for g in range(2):
        low = by_ied["bands"][0]["groups"][g]["fnmr"]["value"]
        high = by_ied["bands"][2]["groups"][g]["fnmr"]["value"]
        assert low > high + 0.1


def test_the_section_is_in_the_html_and_the_terminal(report: dict) -> None:
    html = render_html(report)
    assert "Image quality per group" in html and "FNMR by inter_eye_distance_px band" in html
    console = Console(record=True, width=160)
    print_quality(report, console)
    text = console.export_text()
    assert "inter_eye_distance_px" in text and "female" in text and "low (< " in text
    assert "median [Q1, Q3]" in text  # brackets shown, not eaten as rich markup


def test_without_quality_columns_there_is_no_section() -> None:
    report = _audit(_table(with_quality=False))
    assert "quality" not in report
    assert "Image quality per group" not in render_html(report)
    console = Console(record=True)
    print_quality(report, console)
    assert console.export_text() == ""


def test_band_and_pair_helpers() -> None:
    assert band_of(np.array([1.0, 2.0, 2.5, 3.0, np.nan]), [2.0, 3.0]).tolist() == [0, 1, 1, 2,
                                                                                     -1]
    matrix = np.eye(4, dtype=np.float32)
    first, second, scores = genuine_pairs(matrix, np.array([0, 1, 0, 0]))
    assert sorted(zip(first.tolist(), second.tolist(), strict=True)) == [(0, 2), (0, 3), (2, 3)]
    assert scores.tolist() == [0.0, 0.0, 0.0]


def test_an_identification_audit_carries_the_distribution_only() -> None:
    from dataclasses import replace

    from faceaudit.audit.identification_run import audit_identification

    emb = replace(embeddings_from_table(_table(), "synthetic"), backend_id="dlib-resnet:1")
    report = audit_identification(emb, _attributes(), ["sex"],
                                  AuditSettings(targets=[1e-2], reps=20), candidates=5,
                                  repeats=1, gallery_templates="one", gallery_sizes=[],
                                  input_kind="embeddings", input_path="synthetic")
    section = report["quality"]
    assert [row["group"] for row in section["distribution"]] == report["groups"]
    assert section["fnmr_by_band"] == [] and "not computed" in section["note"]
    assert "Image quality per group" in render_html(json.loads(json.dumps(report)))


def test_a_pair_list_audit_bands_the_lists_genuine_pairs() -> None:
    from faceaudit.audit.run import audit_pairs

    emb = embeddings_from_table(_table(), "synthetic")
    rng = np.random.default_rng(3)
    ids = np.array(emb.identities)
    n = len(ids)
    genuine = [(i, j) for i in range(n) for j in range(i + 1, n) if ids[i] == ids[j]][::2]
    impostor = [tuple(sorted(rng.choice(n, 2, replace=False))) for _ in range(4000)]
    impostor = [(int(i), int(j)) for i, j in impostor if ids[i] != ids[j]]
    listed = genuine + impostor
    report = audit_pairs(emb, _attributes(), ["sex"],
                         [(emb.paths[i], emb.paths[j]) for i, j in listed],
                         AuditSettings(targets=[1e-2], reps=30), input_kind="embeddings",
                         input_path="synthetic", pairs_path="pairs.csv")
    report = json.loads(json.dumps(report, allow_nan=False))
    section = report["quality"]
    threshold = section["threshold"]
    assert threshold is not None
    entry = section["fnmr_by_band"][0]
    values = emb.quality[entry["component"]]
    band = np.searchsorted(np.quantile(values, [1 / 3, 2 / 3]), values, side="right")
    female = np.array([int(i[1:]) % 2 == 1 for i in ids])
    for b, cell in enumerate(entry["bands"]):
        for g in cell["groups"]:
            mine = [(i, j) for i, j in genuine if min(band[i], band[j]) == b
                    and female[i] == (g["group"] == "female")]
            misses = sum(float(emb.matrix[i] @ emb.matrix[j]) < threshold for i, j in mine)
            assert (g["fnmr"]["comparisons"], g["fnmr"]["errors"]) == (len(mine), misses)



def test_the_quality_tables_fit_a_1280_px_page(tmp_path) -> None:
    """Every quality component (eleven on the LFW demo) is shown, and no table is wider than
    its box at 1280 px: components are rows, groups columns (the LFW demo's report, a
    component per column, cut off the columns past luminance_uniformity)."""
    import re

    from browser import overflowing

    from faceaudit.engine.faces.quality import COMPONENTS

    table = _table(with_quality=False)
    rng = np.random.default_rng(3)
    for c in COMPONENTS:
        table = table.append_column(f"quality_{c}",
                                    pa.array(rng.uniform(-20, 120, table.num_rows)
                                             .astype(np.float32)))
    report = _audit(table)
    assert len(report["quality"]["components"]) == len(COMPONENTS) >= 10
    html = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", render_html(report))
    for component in COMPONENTS:
        assert f">{component}<" in html, component
    assert overflowing(html, tmp_path / "wide", "html, .table-wrap, table") == []
