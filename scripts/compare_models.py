"""Two models side by side on LFW: the default model against a deliberately degraded copy.

    .venv/bin/python scripts/compare_models.py [--data PATH_TO_LFW] [--noise 0.02] [--out DIR]
    .venv/bin/python scripts/compare_models.py --native 20   # dlib-resnet vs dlib-native

Embeds LFW with ``dlib-resnet`` (cached: a rerun does no model work), writes the templates and
a copy with Gaussian noise (per-dimension standard deviation ``--noise``, seeded) to two
Parquet files, and audits both together by sex — exhaustively, each model at its own threshold
for each target FMR, with a paired identity bootstrap — exactly as

    faceaudit audit --embeddings DIR/dlib-resnet.parquet --embeddings DIR/noisy.parquet \\
        --attributes DIR/sex.csv --by sex --out DIR/report

would. Prints, as Markdown, each group's FMR and FNMR per model and the difference with its
paired 95 % interval at the primary target (the README's "Comparing models" table).

With ``--native N`` it instead compares the same network through its two runtimes, the ONNX
conversion ``dlib-resnet`` and dlib's own ``dlib-native``, on the first N women and N men of LFW
(alphabetically) with two or more images, two images each (a sanity check: no difference should
be detectable). ``tests/audit/test_compare_lfw.py`` uses this module's subset and noisy copy.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from faceaudit.audit.engine import AuditSettings
from faceaudit.audit.inputs import embeddings_from_table, read_lfw_attributes
from faceaudit.audit.report import write_report
from faceaudit.audit.side_by_side import audit_models_embeddings
from faceaudit.base.datasets import LFW_HELP, find_lfw
from faceaudit.engine.embed_files import embed_dataset


def lfw_subset(lfw: Path, meta: Path, out: Path, per_group: int) -> Path:
    """``out/images/<person>/<2 images>`` (symlinks into LFW) for the first ``per_group``
    women and men (alphabetically) with two or more images, and ``out/attributes.csv``
    (``identity,sex``)."""
    sex: dict[str, str] = {}
    for label in ("female", "male"):
        for line in (meta / f"{label}_names.txt").read_text().split():
            sex[line] = label
    chosen: dict[str, list[str]] = {"female": [], "male": []}
    for person in sorted(p for p in lfw.iterdir() if p.is_dir()):
        images = sorted(person.iterdir())[:2]
        labels = {sex.get(i.name) for i in images}
        if len(images) < 2 or len(labels) != 1 or None in labels:
            continue
        (label,) = labels
        if len(chosen[label]) < per_group:
            chosen[label].append(person.name)
            (out / "images" / person.name).mkdir(parents=True)
            for image in images:
                (out / "images" / person.name / image.name).symlink_to(image)
        if all(len(v) == per_group for v in chosen.values()):
            break
    rows = [f"{p},{label}" for label, people in chosen.items() for p in people]
    (out / "attributes.csv").write_text("identity,sex\n" + "\n".join(rows) + "\n")
    return out


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


def native_check(lfw: Path, per_group: int, settings: AuditSettings) -> None:
    """dlib-resnet vs dlib-native on an LFW subset: print every difference and its interval."""
    from faceaudit.audit.inputs import read_attributes

    with tempfile.TemporaryDirectory() as tmp:
        subset = lfw_subset(lfw, lfw.parent / "lfw-meta", Path(tmp), per_group)
        names = ["dlib-resnet", "dlib-native"]
        models = [
            embeddings_from_table(embed_dataset(subset / "images", backend=b), b) for b in names
        ]
        report = audit_models_embeddings(
            names, models, read_attributes(subset / "attributes.csv"), ["sex"], settings,
            input_kind="dataset", input_paths=names,
        )
    rows = [(t["target_fmr"], r) for t in report["comparison"]["targets"] for r in t["rows"]
            if t["models"][0]["supported"]]
    apart = [(t, r) for t, r in rows if r["differences"][0].get("excludes_zero")]
    largest = max((abs(r["differences"][0]["value"]), t, r["metric"], r["group"])
                  for t, r in rows if r["group"] is not None)
    print(f"{per_group} women and {per_group} men, 2 images each; {settings.reps} paired "
          f"replicates; targets {', '.join(f'{t:g}' for t in settings.targets)}")
    print("| target | rate | dlib-native − dlib-resnet [paired 95 % CI] |")
    print("|---|---|---|")
    for t, r in rows:
        if r["group"] is not None and r["metric"] != "accuracy":
            print(f"| {t:g} | {r['metric'].upper()} {r['group']} | {_diff(r['differences'][0])} |")
    print(f"\nintervals excluding 0: {len(apart)} of {len(rows)}; largest per-group difference "
          f"{largest[0]:.3g} ({largest[2]} {largest[3]} at {largest[1]:g})")


def main() -> None:
    """Embed (cached), degrade, audit both models together; print the side-by-side table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=None, help="LFW folder (one per person)")
    parser.add_argument("--noise", type=float, default=0.02, help="noise s.d. per dimension")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fmr", default="1e-2,1e-3,1e-4")
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=Path("compare-out"))
    parser.add_argument("--native", type=int, default=0, metavar="N",
                        help="compare dlib-resnet with dlib-native on N women and N men instead")
    args = parser.parse_args()
    lfw = args.data or find_lfw()
    if lfw is None:
        raise SystemExit(LFW_HELP)
    if args.native:
        targets = [float(t) for t in args.fmr.split(",")]
        native_check(lfw, args.native, AuditSettings(targets=targets, reps=args.bootstrap))
        return
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
