"""A cold process finds the cached ONNX conversion without re-reading the ``.dat`` (issue 15)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from faceaudit.engine.models.dlib_onnx_cache import (
    conversion_path,
    default_dat_path,
    dlib_resnet_onnx,
)

SRC = Path(__file__).resolve().parents[2] / "src"

# A fresh interpreter records every file it opens (a CPython audit hook), then asks for the
# conversion of DAT and reports what it opened and which converter modules it imported.
_PROBE = """
import json, sys
opened = []
sys.addaudithook(lambda event, args: opened.append(str(args[0])) if event == "open" else None)
from faceaudit.engine.models.dlib_onnx_cache import dlib_resnet_onnx
path = dlib_resnet_onnx({dat!r})
print(json.dumps({{"path": str(path), "read_dat": {dat!r} in opened,
                  "converter": sorted(m for m in ("onnx", "faceaudit.engine.models.dlib_dat")
                                      if m in sys.modules)}}))
"""


def _probe(dat: Path, cache: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(SRC), "FACEAUDIT_CACHE": str(cache)}
    done = subprocess.run([sys.executable, "-c", _PROBE.format(dat=str(dat))], env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_cold_process_reuses_conversion_without_reading_dat(tmp_path: Path) -> None:
    """First process hashes the .dat; every later one goes straight to the cached ONNX file."""
    dat = tmp_path / "resnet.dat"
    shutil.copyfile(default_dat_path(), dat)
    cache = tmp_path / "cache"
    cache.mkdir()
    converted = dlib_resnet_onnx()  # the conversion the rest of the suite already made
    shutil.copyfile(converted, cache / converted.name)

    first = _probe(dat, cache)
    assert first["read_dat"] is True  # never seen: read and hash it once
    assert first["converter"] == []  # same content as a cached conversion: nothing to convert
    assert Path(first["path"]) == cache / converted.name

    again = _probe(dat, cache)
    assert again == {"path": first["path"], "read_dat": False, "converter": []}

    # A changed file (new mtime) is read and hashed again, never trusted by its name.
    os.utime(dat, ns=(1_000_000_000, 1_000_000_000))
    changed = _probe(dat, cache)
    assert changed["read_dat"] is True and changed["path"] == first["path"]


def test_pointer_to_a_missing_or_garbled_conversion_is_not_trusted(tmp_path: Path,
                                                                 monkeypatch) -> None:
    """A pointer naming no file (or holding junk) falls back to hashing the .dat, and is fixed."""
    real = dlib_resnet_onnx()
    digest = real.name.split("-")[1]  # dlib_resnet-<sha256>-c<version>.onnx
    monkeypatch.setenv("FACEAUDIT_CACHE", str(tmp_path))
    shutil.copyfile(real, conversion_path(digest))
    found = dlib_resnet_onnx()
    assert found == conversion_path(digest)
    pointers = list(tmp_path.glob("dlib_resnet-src-*.sha256"))
    assert len(pointers) == 1
    for junk in ("0" * 64, "not a digest"):  # names a conversion that does not exist / garbage
        pointers[0].write_text(junk)
        assert dlib_resnet_onnx() == found
        assert pointers[0].read_text() == digest  # repaired


_NAMING_PROBE = """
import json, sys
opened = []
sys.addaudithook(lambda event, args: opened.append(str(args[0])) if event == "open" else None)
from faceaudit.engine.models.identity import embedder_model_sha256
from faceaudit.engine.models.registry import get_embedder
embedder = get_embedder()
if sys.argv[1:] == ["embed"]:  # an embed run: the network loads, the conversion is found
    import numpy as np
    embedder.embed(np.zeros((1, 150, 150, 3), dtype=np.uint8))
sha = embedder_model_sha256(embedder)
print(json.dumps({{"sha256": sha, "read_dat": {dat!r} in opened}}))
"""


def test_cold_process_names_its_model_without_reading_dat(tmp_path: Path) -> None:
    """An embed run records the model file's SHA-256; a process that finds the conversion by
    its pointer takes the hash from there too instead of reading the 22 MB file again."""
    dat = default_dat_path()
    cache = tmp_path / "cache"
    env = {**os.environ, "PYTHONPATH": str(SRC), "FACEAUDIT_CACHE": str(cache)}

    def probe(*args: str) -> dict:
        done = subprocess.run([sys.executable, "-c", _NAMING_PROBE.format(dat=str(dat)), *args],
                              env=env, capture_output=True, text=True, timeout=300, check=False)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout.strip().splitlines()[-1])

    cache.mkdir()
    converted = dlib_resnet_onnx()
    shutil.copyfile(converted, cache / converted.name)
    expected = hashlib.sha256(dat.read_bytes()).hexdigest()
    first = probe("embed")  # no pointer yet: the file is read and hashed
    assert first == {"sha256": expected, "read_dat": True}
    assert probe() == {"sha256": expected, "read_dat": False}
