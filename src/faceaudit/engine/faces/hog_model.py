"""dlib's frontal HOG face detector, built once and then loaded from a file in the cache.

``dlib.get_frontal_face_detector()`` decodes the detector from a compressed text blob compiled
into dlib, which takes 0.3–0.9 s on every call, in every process and worker: the largest part of
a cold ``faceaudit embed``. The same detector saved in dlib's binary form loads in about 1 ms.
The first process that needs it builds it the slow way and saves it to
``$FACEAUDIT_CACHE/dlib_frontal_hog-<dlib version>.svm`` (through a temporary file and a rename, so
no process sees a partial file); later ones load that file. A file dlib cannot read (truncated,
overwritten) is rebuilt, and a cache that cannot be written only costs the slow path.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import dlib

from faceaudit.base.home import cache_dir


def hog_cache_path() -> Path:
    """Where the saved detector of the installed dlib version lives."""
    version = "".join(c if c.isalnum() or c in ".-" else "_" for c in dlib.__version__)
    return cache_dir() / f"dlib_frontal_hog-{version}.svm"


def _save(detector: dlib.fhog_object_detector, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=target.name, suffix=".tmp")
    os.close(fd)
    try:
        detector.save(tmp)
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)


def frontal_face_detector() -> dlib.fhog_object_detector:
    """dlib's frontal face detector: loaded from the cache, else built and saved there."""
    path = hog_cache_path()
    try:
        return dlib.fhog_object_detector(str(path))
    except RuntimeError:  # not cached yet, or a file dlib cannot deserialize: rebuild it
        pass
    detector = dlib.get_frontal_face_detector()
    try:
        _save(detector, path)
    except OSError:  # a read-only cache: this process still has its detector
        pass
    return detector
