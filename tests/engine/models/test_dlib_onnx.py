"""The ONNX conversion of dlib's face ResNet against dlib itself, and its on-disk cache."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import dlib
import numpy as np
import onnxruntime as ort
import pytest
from PIL import Image

from faceaudit.base.errors import ModelError
from faceaudit.engine.models import dlib_onnx
from faceaudit.engine.models.dlib_dat import DatFormatError, TagOrSkip, read_network
from faceaudit.engine.models.dlib_onnx import build_model
from faceaudit.engine.models.dlib_onnx_cache import default_dat_path, dlib_resnet_onnx
from faceaudit.engine.models.files import SHAPE_5, dlib_model_path

LFW_IMAGES = [
    "Abel_Pacheco/Abel_Pacheco_0001.jpg",
    "Amber_Tamblyn/Amber_Tamblyn_0002.jpg",
    "Akhmed_Zakayev/Akhmed_Zakayev_0003.jpg",
]


def _chips(paths: list[Path]) -> list[np.ndarray]:
    """Every face dlib's HOG detector finds in ``paths``, as 150×150 RGB uint8 chips."""
    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(str(dlib_model_path(SHAPE_5)))
    chips = []
    for path in paths:
        image = np.asarray(Image.open(path).convert("RGB"))
        for box in detector(image, 1):
            shape = predictor(image, box)
            chips.append(dlib.get_face_chip(image, shape, size=150, padding=0.25))
    return chips


@pytest.fixture(scope="module")
def colour_chips(faces_small: Path) -> np.ndarray:
    paths = sorted(p for p in faces_small.rglob("*") if p.suffix in {".jpg", ".png"})
    return np.stack(_chips(paths))


@pytest.fixture(scope="module")
def all_chips(colour_chips: np.ndarray, shared_data: Path) -> np.ndarray:
    lfw = _chips([shared_data / "lfw" / name for name in LFW_IMAGES])
    assert len(lfw) >= len(LFW_IMAGES)
    return np.concatenate([colour_chips, np.stack(lfw)])


@pytest.fixture(scope="module")
def dlib_net() -> dlib.face_recognition_model_v1:
    return dlib.face_recognition_model_v1(str(default_dat_path()))


@pytest.fixture(scope="module")
def reference(all_chips: np.ndarray, dlib_net) -> np.ndarray:
    """dlib's own descriptors of ``all_chips`` (the colour chips come first)."""
    return np.array([dlib_net.compute_face_descriptor(c) for c in all_chips], dtype=np.float32)


@pytest.fixture(scope="module")
def session() -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    return ort.InferenceSession(
        str(dlib_resnet_onnx()), sess_options=options, providers=["CPUExecutionProvider"]
    )


def _onnx(session: ort.InferenceSession, chips: np.ndarray) -> np.ndarray:
    return session.run(None, {"chips": chips.astype(np.float32)})[0]


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def test_every_face_found(colour_chips: np.ndarray, faces_small: Path) -> None:
    assert len(_chips([faces_small / "group" / "insightface_t1.jpg"])) == 6
    assert len(colour_chips) >= 6 + 6 + 4  # group, mdtf pairs, Obama/Biden photos


def test_matches_dlib(all_chips: np.ndarray, reference: np.ndarray, session) -> None:
    ours = _onnx(session, all_chips)
    assert ours.shape == reference.shape == (len(all_chips), 128)
    assert ours.dtype == np.float32
    assert _cosines(ours, reference).min() >= 0.999
    assert np.abs(ours - reference).max() < 1e-4  # un-normalised, like dlib's output


def test_bgr_input_fails_the_bar(colour_chips: np.ndarray, reference: np.ndarray, session) -> None:
    swapped = _onnx(session, colour_chips[..., ::-1])
    assert _cosines(swapped, reference[: len(colour_chips)]).min() < 0.999


def test_dynamic_batch(all_chips: np.ndarray, session) -> None:
    whole = _onnx(session, all_chips)
    one_by_one = np.concatenate([_onnx(session, chip[None]) for chip in all_chips[:4]])
    np.testing.assert_allclose(one_by_one, whole[:4], atol=1e-5)


def test_other_layouts_are_refused() -> None:
    layers = read_network(default_dat_path())
    without_a_tag = [layer for i, layer in enumerate(layers) if i != 5]
    assert isinstance(layers[5], TagOrSkip)
    with pytest.raises(ModelError, match="anet_type"):
        build_model(without_a_tag)


def test_converted_once_and_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACEAUDIT_CACHE", str(tmp_path))
    first = dlib_resnet_onnx()
    assert first.parent == tmp_path
    digest = hashlib.sha256(default_dat_path().read_bytes()).hexdigest()
    assert digest in first.name
    mtime = first.stat().st_mtime_ns

    def no_conversion(*args, **kwargs):
        raise AssertionError("converted again")

    monkeypatch.setattr(dlib_onnx, "build_model", no_conversion)
    second = dlib_resnet_onnx(default_dat_path())
    assert second == first
    assert second.stat().st_mtime_ns == mtime
    # no temporary left behind: the conversion and the pointer that finds it without the .dat
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".onnx", ".sha256"]
    assert first in tmp_path.iterdir()


def test_concurrent_conversions_agree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACEAUDIT_CACHE", str(tmp_path))
    with ThreadPoolExecutor(max_workers=3) as pool:
        paths = list(pool.map(lambda _: dlib_resnet_onnx(), range(3)))
    assert len(set(paths)) == 1
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix != ".sha256") == [paths[0].name]
    assert len(list(tmp_path.glob("*.tmp"))) == 0
    session = ort.InferenceSession(str(paths[0]), providers=["CPUExecutionProvider"])
    assert session.get_outputs()[0].name == "descriptors"


def test_bad_dat_file_raises_typed_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACEAUDIT_CACHE", str(tmp_path / "cache"))
    truncated = tmp_path / "cut.dat"
    truncated.write_bytes(default_dat_path().read_bytes()[:-10])
    with pytest.raises(DatFormatError):
        dlib_resnet_onnx(truncated)
    with pytest.raises(ModelError, match="cannot read"):
        dlib_resnet_onnx(tmp_path / "absent.dat")
