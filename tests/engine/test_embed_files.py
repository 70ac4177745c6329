"""Batch embedding: Parquet columns, the cache, and images with no face or no image at all."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from faceaudit.base.errors import InputDataError
from faceaudit.engine import api
from faceaudit.engine.embed_files import (
    QUALITY_COLUMNS,
    EmbeddingCache,
    EmbedSettings,
    embed_dataset,
    embed_paths,
    embeddings_matrix,
    table_metadata,
)
from faceaudit.engine.faces.quality import COMPONENTS, QUALITY_VERSION, quality_components
from faceaudit.engine.models.identity import backend_model_sha256


@pytest.fixture()
def dataset(tmp_path: Path, faces_small: Path) -> Path:
    """mdtf's three people as identity folders, plus a blank image and a broken file."""
    root = tmp_path / "people"
    mdtf = faces_small / "mdtf-cc-by-2.0"
    for person, (a, b) in {"p1": (1, 2), "p2": (3, 4), "p3": (5, 6)}.items():
        (root / person).mkdir(parents=True)
        for n in (a, b):
            shutil.copy(mdtf / f"{n}.png", root / person / f"{n}.png")
    from PIL import Image

    Image.new("RGB", (150, 150), (128, 128, 128)).save(root / "p1" / "blank.png")
    (root / "p2" / "broken.jpg").write_bytes(b"\xff\xd8\xff not really")
    return root


def test_dataset_to_parquet_and_cache(dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "faces.parquet"
    table = embed_dataset(dataset, out, workers=1, progress=False)
    assert table.column_names == ["path", "identity", "face_index", "box", "det_score",
                                  "embedding", *QUALITY_COLUMNS]
    assert table.num_rows == 6
    # each template's quality components (docs/quality.md), as the engine measures them
    first = table.column("path").to_pylist()[0]
    decoded = api.open_image(dataset / first)
    faces, _ = api.detect_in(decoded)
    measured = quality_components(decoded.pixels, faces[0])
    for column, name in zip(QUALITY_COLUMNS, COMPONENTS, strict=True):
        assert table.column(column)[0].as_py() == pytest.approx(measured[name], rel=1e-4,
                                                                abs=1e-5)
    meta = table_metadata(pq.read_table(out))
    assert meta["backend_id"] == "dlib-resnet:1"
    # the model file's hash travels with the templates into audits (docs/policy.md)
    assert meta["model_sha256"] == backend_model_sha256("dlib-resnet:1")
    assert meta["no_face"] == ["p1/blank.png"]
    assert list(meta["errors"]) == ["p2/broken.jpg"]
    vectors = embeddings_matrix(table)
    identities = np.array(table.column("identity").to_pylist())
    scores = vectors @ vectors.T
    same = identities[:, None] == identities[None, :]
    off_diagonal = ~np.eye(len(identities), dtype=bool)
    assert scores[same & off_diagonal].min() > scores[~same].max()

    paths = sorted(p for p in dataset.rglob("*.png"))
    again, run = embed_paths(paths, None, EmbedSettings(), root=dataset, workers=1,
                             progress=False)
    assert run.n_cached == len(paths)  # a rerun does no model work
    first = dict(zip(table.column("path").to_pylist(), embeddings_matrix(table), strict=True))
    for path, vector in zip(again.column("path").to_pylist(), embeddings_matrix(again),
                            strict=True):
        assert np.array_equal(vector, first[path])
    by_path = {p: i for i, p in enumerate(table.column("path").to_pylist())}
    for column in QUALITY_COLUMNS:  # the cache keeps the quality components too
        cached = again.column(column).to_pylist()
        assert cached == [table.column(column)[by_path[p]].as_py()
                          for p in again.column("path").to_pylist()]


def test_a_cache_from_before_the_quality_components_is_upgraded(dataset: Path,
                                                                 tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE faces (key TEXT PRIMARY KEY, boxes BLOB, scores BLOB,"
                   " embeddings BLOB, face_indices BLOB, dim INTEGER)")
        db.execute("INSERT INTO faces VALUES ('k', x'', x'', x'', x'', 128)")
    cache = EmbeddingCache(path)
    assert cache.get("k") is None  # no quality: recomputed, not served without it
    cache.close()
    assert EmbedSettings().key("ab", "dlib-resnet:1").endswith(f"|q{QUALITY_VERSION}")

def test_centre_crop_option_embeds_faceless_images(dataset: Path) -> None:
    table = embed_dataset(dataset, no_face="centre", workers=1, progress=False)
    assert table.num_rows == 7
    blank = table.filter(table.column("path").to_numpy(zero_copy_only=False) == "p1/blank.png")
    assert blank.column("face_index").to_pylist() == [-1]


def test_parallel_workers_match_single_process(dataset: Path) -> None:
    paths = sorted(dataset.rglob("*.png"))
    settings = EmbedSettings(primary_only=False)
    one, _ = embed_paths(paths, None, settings, workers=1, progress=False, use_cache=False)
    two, _ = embed_paths(paths, None, settings, workers=2, chunk=2, progress=False,
                         use_cache=False)
    assert one.column("path").to_pylist() == two.column("path").to_pylist()
    assert np.allclose(embeddings_matrix(one), embeddings_matrix(two), atol=1e-5)


def test_not_a_dataset_is_a_typed_error(tmp_path: Path) -> None:
    with pytest.raises(InputDataError):
        embed_dataset(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputDataError):
        embed_dataset(tmp_path / "empty")
