"""The audit on a real Dask cluster: the same report bit for bit, and a killed worker changes
nothing (issue 12)."""

from __future__ import annotations

import json
import os
import signal

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import typer
from cluster_data import synthetic_templates
from typer.testing import CliRunner

from faceaudit.audit.distributed import DaskScores
from faceaudit.audit.scoring import TemplateScores, quantise
from faceaudit.cli.audit import audit_command

app = typer.Typer()
app.command()(audit_command)


def _write_inputs(tmp_path, n=3600, n_ids=1000):
    emb, identity, group = synthetic_templates(n, n_ids, n_groups=3)
    names = ["female", "male", "other"]
    table = pa.table({
        "path": [f"p{i}/{k}.jpg" for k, i in enumerate(identity)],
        "identity": [f"p{i}" for i in identity],
        "face_index": pa.array(np.zeros(n, np.int32)),
        "box": [[0, 0, 10, 10]] * n,
        "det_score": pa.array(np.ones(n, np.float32)),
        "embedding": pa.FixedSizeListArray.from_arrays(pa.array(emb.ravel()), emb.shape[1]),
    })
    pq.write_table(table, tmp_path / "e.parquet")
    rows = ["identity,sex"] + [f"p{i},{names[i % 3]}" for i in range(n_ids)]
    (tmp_path / "a.csv").write_text("\n".join(rows) + "\n")


def _report(tmp_path, out, env):
    args = ["--embeddings", tmp_path / "e.parquet", "--attributes", tmp_path / "a.csv",
            "--by", "sex", "--bootstrap", "200", "--seed", "7", "--fmr", "1e-2,1e-3",
            "--out", tmp_path / out]
    result = CliRunner().invoke(app, [str(a) for a in args], env=env)
    assert result.exit_code == 0, result.output
    return json.loads((tmp_path / out / "report.json").read_text())


def test_report_is_bit_identical_on_a_local_cluster(tmp_path):
    """FACEAUDIT_DASK=local:2 (2 worker processes, TCP on loopback) writes the same report as
    the in-process audit of the same data and seed, apart from when/how long/where."""
    _write_inputs(tmp_path)
    here = _report(tmp_path, "here", {"FACEAUDIT_DASK": ""})
    there = _report(tmp_path, "there", {"FACEAUDIT_DASK": "local:2"})
    cluster = there["provenance"].pop("cluster")
    assert cluster["address"] == "local:2" and cluster["workers"] == 2
    assert cluster["scheduler"].startswith("tcp://127.0.0.1:")
    assert "cluster" not in here["provenance"]
    for report in (here, there):
        for key in ("created_at", "duration_s"):
            report["provenance"].pop(key)
    assert here["provenance"]["impostor_bootstrap"] == "two-way"
    assert json.dumps(here, sort_keys=True) == json.dumps(there, sort_keys=True)


def _assert_same_scores(want, got):
    np.testing.assert_array_equal(got.impostor_hist, want.impostor_hist)
    assert got.genuine_scores.tobytes() == want.genuine_scores.tobytes()
    np.testing.assert_array_equal(got.genuine_unit, want.genuine_unit)


def _kill_one_worker_on_first_block(client):
    """A progress callback that SIGKILLs one worker process when the first block is in."""
    client.wait_for_workers(2, timeout=60)
    victim = sorted(client.run(os.getpid).values())[0]
    killed: list[int] = []

    def progress(_: int) -> None:
        if not killed:
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)

    return progress, killed


def test_a_worker_killed_mid_audit_does_not_change_the_result(dask_client):
    """SIGKILL one of the two worker processes during each pass: its lost blocks are
    recomputed elsewhere and both passes come out exactly as in-process."""
    emb, identity, group = synthetic_templates(1600, 450)
    ref = TemplateScores(emb, identity, group, 2, block=128)
    want = ref.score()
    scorer = DaskScores(dask_client, emb, identity, group, 2, block=128)
    assert len(scorer.blocks) > 60
    progress, killed = _kill_one_worker_on_first_block(dask_client)
    _assert_same_scores(want, scorer.score(progress))
    assert killed

    imp = want.impostor_hist[0, 0]
    k = int(np.searchsorted(-np.cumsum(imp[::-1])[::-1], -0.01 * imp.sum()))
    thr = np.array([k - 50, k, k + 50])
    want_m, want_c, want_p = ref.count_impostors(thr, pair_thresholds=thr[1:])
    progress, killed_2 = _kill_one_worker_on_first_block(dask_client)
    got_m, got_c, got_p = scorer.count_impostors(thr, progress, pair_thresholds=thr[1:])
    assert killed_2
    np.testing.assert_array_equal(got_m, want_m)
    np.testing.assert_array_equal(got_c, want_c)
    assert got_m.sum() > 0
    for field in ("unit_i", "unit_j", "matches", "templates"):
        np.testing.assert_array_equal(getattr(got_p, field), getattr(want_p, field))
    dask_client.wait_for_workers(2, timeout=60)
    assert not set(killed + killed_2) & set(dask_client.run(os.getpid).values())


def test_genuine_scores_are_the_cosines_of_their_pairs(dask_client):
    """Not just equal to in-process: right (the genuine scores' bins are those of E·E^T)."""
    emb, identity, group = synthetic_templates(400, 150)
    got = DaskScores(dask_client, emb, identity, group, 2, block=64).score()
    full = emb @ emb.T
    i, j = np.triu_indices(len(emb), 1)
    same = identity[i] == identity[j]
    np.testing.assert_array_equal(
        np.sort(got.genuine_bins), np.sort(quantise(full[i[same], j[same]]))
    )
