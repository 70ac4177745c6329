"""Without --cluster nothing changes: Dask is never imported (cold start, issue 15)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

SRC = Path(__file__).resolve().parents[2] / "src"

_PROBE = """
import json, sys
sys.argv = ["faceaudit", *{argv}]
from faceaudit.cli import main
try:
    main()
except SystemExit as stop:
    code = stop.code
print(json.dumps({{"code": code, "dask": sorted(m for m in ("dask", "distributed")
                                               if m in sys.modules)}}))
"""


def test_an_audit_without_cluster_never_imports_dask(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    ident = np.repeat(np.arange(40), 3)
    emb = rng.standard_normal((len(ident), 8)).astype(np.float32)
    pq.write_table(pa.table({
        "path": [f"p{i}/{k}.jpg" for k, i in enumerate(ident)],
        "identity": [f"p{i}" for i in ident],
        "embedding": pa.FixedSizeListArray.from_arrays(pa.array(emb.ravel()), 8),
    }), tmp_path / "e.parquet")
    (tmp_path / "a.csv").write_text(
        "identity,sex\n" + "".join(f"p{i},{'f' if i % 2 else 'm'}\n" for i in range(40))
    )
    argv = ["audit", "--embeddings", str(tmp_path / "e.parquet"), "--attributes",
            str(tmp_path / "a.csv"), "--by", "sex", "--bootstrap", "0", "--fmr", "1e-1",
            "--out", str(tmp_path / "o")]
    env = {k: v for k, v in os.environ.items() if k != "FACEAUDIT_DASK"}
    done = subprocess.run(
        [sys.executable, "-c", _PROBE.format(argv=repr(argv))],
        capture_output=True, text=True, timeout=120, check=False,
        env={**env, "PYTHONPATH": str(SRC)},
    )
    probe = json.loads(done.stdout.strip().splitlines()[-1])
    assert probe["code"] in (0, None), done.stderr
    assert (tmp_path / "o" / "report.json").exists()
    assert probe["dask"] == []
