"""Two models side by side on LFW: the default model against a deliberately degraded copy.

    .venv/bin/python scripts/compare_models.py [--data PATH_TO_LFW] [--noise 0.02] [--out DIR]

Embeds LFW with ``dlib-resnet`` (cached: a rerun does no model work), writes the templates and
a copy with Gaussian noise (per-dimension standard deviation ``--noise``, seeded) to two
Parquet files, and audits both together by sex — exhaustively, each model at its own threshold
for each target FMR, with a paired identity bootstrap — exactly as

    faceaudit audit --embeddings DIR/dlib-resnet.parquet --embeddings DIR/noisy.parquet \\
        --attributes DIR/sex.csv --by sex --out DIR/report

would. Prints, as Markdown, each group's FMR and FNMR per model and the difference with its
paired 95 % interval at the primary target (the README's "Comparing models" table).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from faceaudit.audit.engine import AuditSettings
from faceaudit.audit.inputs import embeddings_from_table, read_lfw_attributes
from faceaudit.audit.report import write_report
from faceaudit.audit.side_by_side import audit_models_embeddings
from faceaudit.batch import embed_dataset
from faceaudit.datasets import LFW_HELP, find_lfw


def noisy_copy(table: pa.Table, sigma: float, seed: int) -> pa.Table:
    """The templates of ``table`` (unit norm) plus N(0, sigma²) noise in every dimension."""
    emb = np.stack(table.column("embedding").to_numpy(zero_copy_only=False)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    emb += np.random.default_rng(seed).normal(0.0, sigma, emb.shape).astype(np.float32)
    column = pa.FixedSizeListArray.from_arrays(pa.array(emb.ravel()), emb.shape[1])
    return table.set_column(table.schema.get_field_index("embedding"), "embedding", column)


def _est(e: dict) -> str:
    if e.get("value") is None:
        return "n/a"
    text = f"{e['value']:.3g}"
    if e.get("low") is not None and e.get("high") is not None:
        text += f" [{e['low']:.3g}, {e['high']:.3g}]"
    return text


def _diff(d: dict) -> str:
    if d.get("value") is None:
        return "n/a"
    text = f"{d['value']:+.3g}"
    if d.get("low") is not None and d.get("high") is not None:
        text += f" [{d['low']:+.3g}, {d['high']:+.3g}]"
    return text


def main() -> None:
    """Embed (cached), degrade, audit both models together; print the side-by-side table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=None, help="LFW folder (one per person)")
    parser.add_argument("--noise", type=float, default=0.02, help="noise s.d. per dimension")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fmr", default="1e-2,1e-3,1e-4")
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=Path("compare-out"))
    args = parser.parse_args()
    lfw = args.data or find_lfw()
    if lfw is None:
        raise SystemExit(LFW_HELP)
    args.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    table = embed_dataset(lfw, backend="dlib-resnet")
    degraded = noisy_copy(table, args.noise, args.seed)
    pq.write_table(table, args.out / "dlib-resnet.parquet")
    pq.write_table(degraded, args.out / "noisy.parquet")
    embedded = time.perf_counter()
    attributes = read_lfw_attributes(lfw)
    rows = ["image,sex"] + [f"{p},{v['sex']}" for p, v in attributes.labels.items() if v["sex"]]
    (args.out / "sex.csv").write_text("\n".join(rows) + "\n")
    settings = AuditSettings(
        targets=[float(t) for t in args.fmr.split(",")], reps=args.bootstrap, seed=args.seed
    )
    names = ["dlib-resnet", "noisy"]
    report = audit_models_embeddings(
        names,
        [embeddings_from_table(t, str(lfw)) for t in (table, degraded)],
        attributes,
        ["sex"],
        settings,
        input_kind="embeddings",
        input_paths=[str(args.out / f"{n}.parquet") for n in names],
        attributes_path=str(args.out / "sex.csv"),
    )
    write_report(report, args.out / "report")
    audited = time.perf_counter()
    cmp = report["comparison"]
    entry = next(t for t in cmp["targets"] if t["target_fmr"] == report["primary_target"])
    thresholds = ", ".join(f"{m['model']} {m['threshold']:.4f}" for m in entry["models"])
    print(f"LFW by sex, target FMR {entry['target_fmr']:g} (thresholds: {thresholds}); "
          f"noise s.d. {args.noise} per dimension; {args.bootstrap} paired replicates\n")
    print("| rate | dlib-resnet | noisy | noisy − dlib-resnet [paired 95 % CI] |")
    print("|---|---|---|---|")
    for row in entry["rows"]:
        if row["metric"] == "accuracy" or (row["group"] is None and row["metric"] not in (
            "fmr_ratio", "fnmr_ratio")):
            continue
        label = row["metric"] if row["group"] is None else f"{row['metric'].upper()} "
        label += row["group"] or ""
        values = " | ".join(_est(v) for v in row["values"])
        print(f"| {label} | {values} | {_diff(row['differences'][0])} |")
    print(f"\nembedding (cached) {embedded - start:.1f} s, audit of both models "
          f"{audited - embedded:.1f} s; report in {args.out / 'report'}")


if __name__ == "__main__":
    main()
