"""Which model file a backend id stands for, by content: the SHA-256 of the file on disk.

A backend id (``dlib-resnet:1``) is only a name; an audit is evidence about one model *file*.
Reports carry ``provenance.model_sha256`` and the bias gate compares it with the hash of the
file this installation would load for the same backend, so a relabelled report or a swapped
model file is caught. Hashing reads the file, never loads the model; the digest is cached per
(path, size, mtime), so a changed file is hashed again (for dlib's ResNet also across processes,
by the pointer file of its cached ONNX conversion, :mod:`faceaudit.engine.models.dlib_onnx_cache`).
"""

from __future__ import annotations

import hashlib
import re
import threading
from pathlib import Path

from faceaudit.base.errors import ModelError

SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
_BUILTIN_FILES = {"dlib-resnet:1": "FACE_RESNET", "dlib-native:1": "FACE_RESNET"}
_cache: dict[tuple[str, int, int], str] = {}
_lock = threading.Lock()


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of the file at ``path`` (cached while its size and mtime are unchanged)."""
    path = Path(path)
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    with _lock:
        if key in _cache:
            return _cache[key]
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    with _lock:
        _cache[key] = digest.hexdigest()
    return _cache[key]


def backend_model_sha256(backend_id: str) -> str | None:
    """The SHA-256 of the model file this installation loads for ``backend_id``.

    Known for the built-in dlib backends (both read the shipped
    ``dlib_face_recognition_resnet_model_v1.dat``); ``None`` for a backend whose file this
    process cannot name (an ``onnx:<prefix>`` id names only a prefix of its file's hash).
    """
    attribute = _BUILTIN_FILES.get(backend_id)
    if attribute is None:
        return None
    from faceaudit.engine.models import files
    from faceaudit.engine.models.dlib_onnx_cache import known_dat_sha256

    try:
        path = files.dlib_model_path(getattr(files, attribute))
        # the ONNX conversion's pointer already holds this file's hash (same path, size and
        # mtime): a cold process need not read 22 MB again to name its model
        return known_dat_sha256(path) or file_sha256(path)
    except (OSError, ModelError):
        return None


def hash_matches_backend(backend_id: str, model_sha256: str) -> bool | None:
    """Whether ``model_sha256`` is the file behind ``backend_id``: True/False, or None when
    this installation cannot tell (an unknown backend)."""
    expected = backend_model_sha256(backend_id)
    if expected is not None:
        return expected == model_sha256
    name, _, version = backend_id.partition(":")
    if name == "onnx" and re.fullmatch(r"[0-9a-f]{12}", version):
        return model_sha256.startswith(version)
    return None


def embedder_model_sha256(embedder: object) -> str | None:
    """The model-file SHA-256 of a loaded embedder (its ``model_sha256`` attribute, else the
    built-in file behind its backend id)."""
    given = getattr(embedder, "model_sha256", None)
    if isinstance(given, str):
        return given
    return backend_model_sha256(str(getattr(embedder, "backend_id", "")))
