"""``faceaudit embed`` on a real Dask cluster: the same table, cache keys and refusals."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image
from typer.testing import CliRunner

from faceaudit.cli.main import app
from faceaudit.engine.embed_files import EmbedSettings, embed_paths, embeddings_matrix, list_dataset


@pytest.fixture()
def dataset(tmp_path: Path, faces_small: Path) -> Path:
    """mdtf's three people as identity folders, plus a blank image, a broken file and a FIFO."""
    root = tmp_path / "people"
    mdtf = faces_small / "mdtf-cc-by-2.0"
    for person, (a, b) in {"p1": (1, 2), "p2": (3, 4), "p3": (5, 6)}.items():
        (root / person).mkdir(parents=True)
        for n in (a, b):
            shutil.copy(mdtf / f"{n}.png", root / person / f"{n}.png")
    Image.new("RGB", (150, 150), (128, 128, 128)).save(root / "p1" / "blank.png")
    (root / "p2" / "broken.jpg").write_bytes(b"\xff\xd8\xff not really")
    os.mkfifo(root / "p3" / "pipe.jpg")  # a worker must refuse it, not block on it
    return root


def _embed(dataset: Path, client, use_cache: bool = False):
    paths, identities = list_dataset(dataset)
    return embed_paths(paths, identities, EmbedSettings(), root=dataset, workers=1,
                       progress=False, use_cache=use_cache, client=client)


def test_cluster_table_and_refusals_equal_in_process(dataset: Path, dask_client) -> None:
    """Workers read the files themselves (shared filesystem) and give the same rows, the same
    no-face list and the same typed refusals as the in-process run."""
    here, run_here = _embed(dataset, None)
    there, run_there = _embed(dataset, dask_client)
    assert there.num_rows == here.num_rows == 6
    for column in ("path", "identity", "face_index", "box", "det_score"):
        assert there.column(column).to_pylist() == here.column(column).to_pylist()
    np.testing.assert_allclose(embeddings_matrix(there), embeddings_matrix(here), atol=1e-5)
    assert run_there.no_face == run_here.no_face == ["p1/blank.png"]
    assert run_there.refused_by_reason() == run_here.refused_by_reason()
    assert sorted(run_there.errors) == ["p2/broken.jpg", "p3/pipe.jpg"]
    assert run_there.error_codes["p3/pipe.jpg"] == "image-unreadable"


def test_cluster_run_uses_the_same_cache_keys(dataset: Path, dask_client, tmp_path,
                                              monkeypatch) -> None:
    """A cluster run after an in-process run finds every readable image in the cache."""
    monkeypatch.setenv("FACEAUDIT_CACHE", str(tmp_path / "cache"))
    _, first = _embed(dataset, None, use_cache=True)
    assert first.n_cached == 0
    _, again = _embed(dataset, dask_client, use_cache=True)
    assert again.n_cached == first.n_images - len(first.errors)


def test_embed_command_on_a_local_cluster_exits_6_on_refusals(dataset: Path, tmp_path) -> None:
    """`faceaudit embed --cluster local:1`: the same summary and exit code 6 as in-process."""
    out = {}
    for name, cluster in (("here", []), ("there", ["--cluster", "local:1"])):
        result = CliRunner().invoke(
            app, ["embed", str(dataset), "--out", str(tmp_path / f"{name}.parquet"), "--json",
                  *cluster],
            env={"FACEAUDIT_CACHE": str(tmp_path / f"cache-{name}")},
        )
        assert result.exit_code == 6, result.output
        out[name] = json.loads(result.stdout)
        out[name].pop("out")
    assert out["here"] == out["there"]
    assert out["there"]["refused"]["count"] == 2
    assert out["there"]["refused"]["by_reason"] == {
        "image-unreadable": ["p2/broken.jpg", "p3/pipe.jpg"]
    }
    assert pq.read_table(tmp_path / "there.parquet").num_rows == 6


@pytest.mark.parametrize("address", ["local:zero", "local:0", "tcp://127.0.0.1:1"])
def test_a_bad_cluster_address_is_one_clear_error(address: str, tmp_path: Path) -> None:
    """A malformed local:N or an unreachable scheduler: one line on stderr, exit 2."""
    (tmp_path / "in").mkdir()
    Image.new("RGB", (20, 20)).save(tmp_path / "in" / "a.png")
    done = subprocess.run(
        [sys.executable, "-m", "faceaudit", "embed", str(tmp_path / "in" / "a.png"),
         "--out", str(tmp_path / "x.parquet")],
        env={**os.environ, "FACEAUDIT_DASK": address}, capture_output=True, text=True,
        timeout=120, check=False,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("faceaudit: error: ") and "Traceback" not in done.stderr
    assert "local:N" in done.stderr or "scheduler" in done.stderr
    assert not (tmp_path / "x.parquet").exists()
