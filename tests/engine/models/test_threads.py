"""The onnxruntime thread count: an argument from the caller, the user's setting as default."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from faceaudit.engine import embed_cluster, embed_files
from faceaudit.engine.embed_chunk import EmbedSettings, process_images
from faceaudit.engine.models.registry import get_embedder
from faceaudit.engine.models.threads import THREADS_ENV, session_threads


def test_the_callers_count_wins_over_the_users_setting(monkeypatch) -> None:
    monkeypatch.setenv(THREADS_ENV, "3")
    assert session_threads(2) == 2
    assert session_threads() == 3
    assert session_threads(None, fallback=1) == 3


def test_without_a_setting_the_fallback_then_every_core(monkeypatch) -> None:
    monkeypatch.delenv(THREADS_ENV, raising=False)
    assert session_threads(None, fallback=1) == 1
    assert session_threads() == len(os.sched_getaffinity(0))


def test_one_embedder_per_thread_count_with_that_many_session_threads(monkeypatch) -> None:
    monkeypatch.delenv(THREADS_ENV, raising=False)
    one = get_embedder("dlib-resnet", threads=1)
    assert get_embedder("dlib-resnet", threads=1) is one
    assert one.session().get_session_options().intra_op_num_threads == 1
    cores = len(os.sched_getaffinity(0))
    assert get_embedder("dlib-resnet") is get_embedder("dlib-resnet", threads=cores)
    if cores > 1:
        assert get_embedder("dlib-resnet") is not one


@pytest.fixture()
def two_images(tmp_path: Path, faces_small: Path) -> list[tuple[str, str, str]]:
    """(label, path, sha256) of two real photos, as the cluster's embedding task takes them."""
    items = []
    for n in (1, 3):
        path = tmp_path / f"{n}.png"
        shutil.copy(faces_small / "mdtf-cc-by-2.0" / f"{n}.png", path)
        items.append((path.name, str(path), hashlib.sha256(path.read_bytes()).hexdigest()))
    return items


def test_the_cluster_task_passes_one_thread_and_leaves_the_environment(
        two_images, monkeypatch) -> None:
    """The Dask task embeds with one session thread by default, as an argument: the process's
    environment is not written (it used to be, to reach the session)."""
    monkeypatch.delenv(THREADS_ENV, raising=False)
    before = dict(os.environ)
    faces, _ = embed_cluster.embed_files(two_images, EmbedSettings())
    assert dict(os.environ) == before
    assert [len(f.scores) for f in faces] == [1, 1]
    data = [(label, Path(path).read_bytes()) for label, path, _ in two_images]
    here, _ = process_images(data, EmbedSettings(), 1)
    for there, local in zip(faces, here, strict=True):
        np.testing.assert_array_equal(there.embeddings, local.embeddings)


def test_a_pool_worker_gets_its_thread_count_as_an_argument(two_images, monkeypatch) -> None:
    """The local pool's initializer records the count for its chunks; os.environ is untouched."""
    monkeypatch.delenv(THREADS_ENV, raising=False)
    monkeypatch.setattr(embed_files, "_WORKER", {})
    before = dict(os.environ)
    embed_files._worker_init(EmbedSettings(), 1)
    data = [(label, Path(path).read_bytes()) for label, path, _ in two_images]
    faces, _ = embed_files._worker_chunk(data)
    assert dict(os.environ) == before
    assert [len(f.scores) for f in faces] == [1, 1]
