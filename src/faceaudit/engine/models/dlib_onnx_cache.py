"""The cached ONNX conversion of dlib's ResNet: found without re-reading the ``.dat``.

A cold process that has converted the model before should pay neither the 22 MB read and
SHA-256 of the ``.dat`` nor the import of the converter (``onnx``, the ``.dat`` parser). The
conversion is stored by content, ``dlib_resnet-<sha256 of the .dat>-c<converter>.onnx``; beside
it a small pointer file, named by the ``.dat``'s resolved path, size and modification time,
holds that SHA-256. While the ``.dat`` keeps its path, size and mtime the pointer names the
conversion directly; any change to them (a replaced or edited file) misses the pointer, and the
file is read and hashed again. Model *identity* for audits is checked separately, by hashing
(:mod:`faceaudit.engine.models.identity`).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

from faceaudit.base.errors import ModelError
from faceaudit.base.home import cache_dir
from faceaudit.engine.models.files import FACE_RESNET, dlib_model_path

# Bump when the generated graph changes, so stale cached conversions are not reused.
CONVERTER_VERSION = 1
_SHA256 = re.compile(r"[0-9a-f]{64}")


def default_dat_path() -> Path:
    """Path of ``dlib_face_recognition_resnet_model_v1.dat`` from ``face-recognition-models``."""
    return dlib_model_path(FACE_RESNET)


def conversion_path(dat_sha256: str) -> Path:
    """Where the conversion of the ``.dat`` with this SHA-256 lives in the cache."""
    return cache_dir() / f"dlib_resnet-{dat_sha256}-c{CONVERTER_VERSION}.onnx"


def _pointer_path(dat_path: Path) -> Path:
    """The pointer file for this ``.dat`` as it is now (path, size, mtime)."""
    try:
        stat = dat_path.stat()
    except OSError as exc:
        raise ModelError(f"cannot read dlib model file {dat_path}: {exc.strerror}") from exc
    key = f"{dat_path.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}".encode()
    return cache_dir() / f"dlib_resnet-src-{hashlib.sha256(key).hexdigest()[:32]}.sha256"


def _write_atomically(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` through a temporary file and a rename."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=target.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def known_dat_sha256(dat_path: Path) -> str | None:
    """The SHA-256 of ``dat_path`` as its pointer file records it, or None when there is no
    pointer for the file as it is now (never converted, or changed since: path, size or mtime).
    """
    try:
        known = _pointer_path(Path(dat_path)).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError, ModelError):
        return None
    return known if _SHA256.fullmatch(known) else None


def dlib_resnet_onnx(dat_path: Path | None = None) -> Path:
    """Return the path of the ONNX conversion of ``dat_path`` (default: :func:`default_dat_path`).

    The conversion runs once and is cached by the ``.dat``'s SHA-256; later calls (in any
    process) find it through the pointer file without reading the ``.dat``. Files are written
    to a temporary name and renamed into place, so concurrent processes never see a partial one.
    """
    dat_path = Path(dat_path) if dat_path is not None else default_dat_path()
    pointer = _pointer_path(dat_path)
    known = known_dat_sha256(dat_path)
    if known is not None and conversion_path(known).is_file():
        return conversion_path(known)

    try:
        data = dat_path.read_bytes()
    except OSError as exc:
        raise ModelError(f"cannot read dlib model file {dat_path}: {exc.strerror}") from exc
    digest = hashlib.sha256(data).hexdigest()
    target = conversion_path(digest)
    try:
        if not target.is_file():
            from faceaudit.engine.models.dlib_dat import (
                parse_network,  # the converter, on a miss only
            )
            from faceaudit.engine.models.dlib_onnx import build_model

            model = build_model(parse_network(data), CONVERTER_VERSION)
            _write_atomically(target, model.SerializeToString())
        _write_atomically(pointer, digest.encode("ascii"))
    except OSError as exc:
        raise ModelError(f"cannot write the ONNX model to {target.parent}: {exc}") from exc
    return target
