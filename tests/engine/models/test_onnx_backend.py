"""The user-supplied ONNX backend, on a tiny ArcFace-shaped model the test builds itself."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from faceaudit import api
from faceaudit.base.errors import FaceAuditError, ModelError
from faceaudit.engine.models.onnx_model import OnnxArcFaceEmbedder

WEIGHTS = np.random.default_rng(7).normal(size=(3, 8)).astype(np.float32)


def build_tiny_model(path: Path) -> Path:
    """(N, 3, 112, 112) → global average pool → flatten → 3×8 matmul: an 8-D 'embedding'."""
    nodes = [
        helper.make_node("GlobalAveragePool", ["input"], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["flat"]),
        helper.make_node("MatMul", ["flat", "w"], ["embedding"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny-arcface",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 112, 112])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["N", 8])],
        initializer=[numpy_helper.from_array(WEIGHTS, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def test_tiny_model_embeds_like_numpy(tmp_path: Path) -> None:
    embedder = OnnxArcFaceEmbedder(build_tiny_model(tmp_path / "tiny.onnx"))
    assert embedder.dim == 8 and embedder.chip.size == 112 and embedder.chip.kind == "arcface"
    assert embedder.backend_id.startswith("onnx:") and len(embedder.version) == 12
    chips = np.random.default_rng(0).integers(0, 256, (5, 112, 112, 3), dtype=np.uint8)
    got = embedder.embed(chips)
    normalised = (chips.astype(np.float32) - 127.5) / 127.5
    expected = normalised.mean(axis=(1, 2)) @ WEIGHTS
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    assert np.allclose(got, expected, atol=1e-5)


def test_onnx_backend_through_the_pipeline(tmp_path: Path, faces_small: Path) -> None:
    model = build_tiny_model(tmp_path / "tiny.onnx")
    embedder = api.get_embedder("onnx", model)
    image = api.load_image(faces_small / "group" / "insightface_t1.jpg")
    faces, vectors = api.face_embeddings(image, embedder)
    assert vectors.shape == (6, 8)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_bad_model_files_are_typed_errors(tmp_path: Path) -> None:
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    with pytest.raises(ModelError):
        OnnxArcFaceEmbedder(junk)
    with pytest.raises(ModelError, match="not found"):
        OnnxArcFaceEmbedder(tmp_path / "missing.onnx")
    with pytest.raises(FaceAuditError, match="needs --model"):
        api.get_embedder("onnx")
    with pytest.raises(FaceAuditError, match="unknown backend"):
        api.get_embedder("resnet-9000")
