"""Where the dlib model files shipped by ``face-recognition-models`` live on disk."""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

from faceaudit.base.errors import ModelError

FACE_RESNET = "dlib_face_recognition_resnet_model_v1.dat"
SHAPE_5 = "shape_predictor_5_face_landmarks.dat"
MMOD_DETECTOR = "mmod_human_face_detector.dat"


@cache
def models_dir() -> Path:
    """Return the ``models`` folder of the installed ``face_recognition_models`` package.

    The package is located with :func:`importlib.util.find_spec` rather than imported, because
    importing it pulls in ``pkg_resources``, which recent setuptools no longer ships.
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            "face-recognition-models is not installed: pip install face-recognition-models"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def dlib_model_path(name: str) -> Path:
    """Return the path of one shipped dlib model file, checking that it exists."""
    path = models_dir() / name
    if not path.is_file():
        raise ModelError(f"model file missing: {path}")
    return path
