"""The embedding network loads on the first embedding, not before: a command whose images hold
no face to embed never pays for it (issue 21's per-command pixel budget)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from faceaudit.engine import api
from faceaudit.engine.models.dlib_resnet import DlibResnetEmbedder

_NO_FACE_THEN_FACE = """
import sys
from faceaudit.engine import api
try:
    api.verify(sys.argv[1], sys.argv[2])
except api.NoFaceError:
    pass
print("loaded after a no-face verify:", "onnxruntime" in sys.modules)
api.verify(sys.argv[1], sys.argv[1])
print("loaded after a verify with faces:", "onnxruntime" in sys.modules)
"""


def test_a_verify_without_a_face_never_loads_the_network(tmp_path: Path,
                                                         faces_small: Path) -> None:
    blank = tmp_path / "blank.png"
    Image.new("RGB", (640, 480), (90, 90, 90)).save(blank)
    face = faces_small / "face_recognition-mit" / "obama.jpg"
    done = subprocess.run([sys.executable, "-c", _NO_FACE_THEN_FACE, str(face), str(blank)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "loaded after a no-face verify: False" in done.stdout
    assert "loaded after a verify with faces: True" in done.stdout


def test_the_lazy_embedder_embeds_as_the_shared_one(faces_small: Path) -> None:
    """A fresh embedder opens its session on first use and gives the shared one's vectors."""
    face = faces_small / "face_recognition-mit" / "obama.jpg"
    fresh = DlibResnetEmbedder(threads=1)
    assert not fresh.loaded
    _, mine = api.face_embedding(str(face), embedder=fresh)
    assert fresh.loaded
    _, shared = api.face_embedding(str(face))
    assert np.allclose(mine, shared, atol=1e-5)
