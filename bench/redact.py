"""Who is left visible? Frame-level redaction recall of faceaudit and deface on one labelled clip.

Makes a clip of real LFW faces (scripts/make_redaction_clip.py: moving, scaling, turning,
occluded, some motion-blurred; half female, half male by LFW's name lists), then redacts it
with ``faceaudit redact`` (library call, same code as the CLI) and with deface 1.5 (its own
``CenterFace`` and ``anonymize_frame`` at its CLI defaults: threshold 0.2, mask scale 1.3,
ellipse blur, every frame, no tracking). For each it prints:

- recall: the share of ground-truth face-frames (face ≥ 50 % visible) whose visible part is
  covered ≥ 90 % by the redaction (deface: the ellipse it blurs; faceaudit: its boxes);
- frames in which at least one face is left uncovered;
- recall per sex group with a 95 % bootstrap interval (faces resampled with replacement);
- frames/s end to end. faceaudit: decode twice, detect, track, redact, encode H.264, log.
  deface: decode once, detect, redact — no encoding (so deface's figure is flattering).

Needs the ``bench`` extra (deface with OpenCV): ``pip install -e '.[bench]'``.

    python bench/redact.py --seconds 2 --faces 10        # 1280×720, 25 fps
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
CLIP_TOOL = REPO / "scripts" / "make_redaction_clip.py"


def _clip_tool():
    spec = importlib.util.spec_from_file_location("make_redaction_clip", CLIP_TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_faceaudit(clip: Path, out: Path) -> tuple[dict[int, list], float]:
    """Redact ``clip`` with faceaudit; return {frame: [("rect", box), …]} and frames/s."""
    from faceaudit.footage.pipeline import RedactSettings, redact_file

    started = time.perf_counter()
    log = redact_file(clip, out, RedactSettings())
    seconds = time.perf_counter() - started
    shapes: dict[int, list] = {}
    for track in log["tracks"]:
        for frame, x1, y1, x2, y2, _why in track["boxes"]:
            shapes.setdefault(frame, []).append(("rect", (x1, y1, x2, y2)))
    return shapes, log["summary"]["frames"] / seconds


def run_deface(clip: Path) -> tuple[dict[int, list], float]:
    """Redact ``clip`` frame by frame with deface's own detector and anonymizer."""
    import av
    from deface.centerface import CenterFace
    from deface.deface import anonymize_frame, scale_bb

    detector = CenterFace(in_shape=None, backend="onnxrt",
                          override_execution_provider="CPUExecutionProvider")
    shapes: dict[int, list] = {}
    started = time.perf_counter()
    frames = 0
    with av.open(str(clip)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            rgb = frame.to_ndarray(format="rgb24")
            dets, _ = detector(rgb, threshold=0.2)
            anonymize_frame(dets, rgb, mask_scale=1.3, replacewith="blur", ellipse=True,
                            draw_scores=False, replaceimg=None, mosaicsize=20)
            shapes[index] = [("ellipse", tuple(int(v) for v in scale_bb(*d[:4], 1.3)))
                             for d in dets]
            frames += 1
    return shapes, frames / (time.perf_counter() - started)


def _inside(shape, gx: np.ndarray, gy: np.ndarray) -> np.ndarray:
    kind, (x1, y1, x2, y2) = shape
    if kind == "rect":
        return (gx >= x1) & (gx < x2) & (gy >= y1) & (gy < y2)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    rx, ry = max((x2 - x1) / 2, 1e-6), max((y2 - y1) / 2, 1e-6)
    return ((gx - cx) / rx) ** 2 + ((gy - cy) / ry) ** 2 <= 1.0


def covered_face_frames(truth: dict, shapes: dict[int, list], tool) -> list[tuple[int, int, bool]]:
    """(frame, face, covered ≥ 90 %) for every ground-truth face-frame at least half visible."""
    rows = []
    for frame, face, x1, y1, x2, y2, visible, hiders in truth["boxes"]:
        if visible < 0.5:
            continue
        free = tool.visible_mask((x1, y1, x2, y2), hiders)
        xs = np.arange(x1 + 0.5, x2, 1.0)
        ys = np.arange(y1 + 0.5, y2, 1.0)
        gx, gy = np.meshgrid(xs, ys)
        hit = np.zeros(gx.shape, bool)
        for shape in shapes.get(frame, []):
            hit |= _inside(shape, gx, gy)
        share = (hit & free).sum() / max(1, free.sum())
        rows.append((frame, face, bool(share >= 0.9)))
    return rows


def _bootstrap(per_face: dict[int, tuple[int, int]], draws: int, rng) -> tuple[float, float]:
    faces = list(per_face)
    values = []
    for _ in range(draws):
        pick = rng.choice(faces, size=len(faces), replace=True)
        hit = sum(per_face[f][0] for f in pick)
        total = sum(per_face[f][1] for f in pick)
        values.append(hit / total if total else float("nan"))
    low, high = np.nanpercentile(values, [2.5, 97.5])
    return float(low), float(high)


def summarise(rows, truth: dict, draws: int, seed: int) -> dict:
    """Recall overall and per sex group (bootstrap over faces), frames with a face uncovered."""
    rng = np.random.default_rng(seed)
    sex = {f["id"]: f["sex"] for f in truth["faces"]}
    per_face: dict[int, list[int]] = {}
    for _frame, face, ok in rows:
        counts = per_face.setdefault(face, [0, 0])
        counts[0] += ok
        counts[1] += 1
    groups = {}
    for group in sorted(set(sex.values())):
        members = {f: tuple(c) for f, c in per_face.items() if sex[f] == group}
        hit = sum(c[0] for c in members.values())
        total = sum(c[1] for c in members.values())
        if not total:
            groups[group] = {"recall": None, "ci95": None, "face_frames": 0, "missed": 0,
                             "faces": len(members)}
            continue
        low, high = _bootstrap(members, draws, rng)
        groups[group] = {"recall": hit / total, "ci95": [low, high], "face_frames": total,
                         "missed": total - hit, "faces": len(members)}
    missed_frames = sorted({frame for frame, _face, ok in rows if not ok})
    return {
        "recall": sum(ok for *_, ok in rows) / len(rows),
        "face_frames": len(rows),
        "missed_face_frames": sum(1 for *_, ok in rows if not ok),
        "frames_with_uncovered_face": len(missed_frames),
        "frames": truth["frames"],
        "by_sex": groups,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lfw", type=Path, default=REPO.parent / "shared" / "data" / "lfw")
    parser.add_argument("--meta", type=Path,
                        default=REPO.parent / "shared" / "data" / "lfw-meta")
    parser.add_argument("--faces", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--fps", type=int, default=25)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-deface", action="store_true", help="only faceaudit")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    tool = _clip_tool()
    with tempfile.TemporaryDirectory(prefix="faceaudit-redact-bench-") as tmp:
        clip = Path(tmp) / "clip.mp4"
        people = tool.lfw_people(args.lfw, args.meta, args.faces, args.seed)
        truth = tool.make_clip(clip, people, args.width, args.height, args.seconds, args.fps,
                               args.seed)
        results = {"clip": {"width": args.width, "height": args.height, "fps": args.fps,
                            "frames": truth["frames"], "faces": len(people),
                            "seed": args.seed}}
        shapes, fps = run_faceaudit(clip, Path(tmp) / "out.mp4")
        results["faceaudit"] = {**summarise(covered_face_frames(truth, shapes, tool), truth,
                                            args.bootstrap, args.seed), "frames_per_s": fps}
        if not args.no_deface:
            shapes, fps = run_deface(clip)
            results["deface"] = {**summarise(covered_face_frames(truth, shapes, tool), truth,
                                             args.bootstrap, args.seed), "frames_per_s": fps}
    print(f"clip: {args.width}x{args.height}, {truth['frames']} frames at {args.fps} fps, "
          f"{len(people)} LFW faces ({sum(p['sex'] == 'female' for p in people)} female)")
    print(f"{'tool':10} {'recall':>7} {'missed':>7} {'frames w/ miss':>15} {'frames/s':>9}  "
          "recall by sex [95% CI]")
    for name in ("faceaudit", "deface"):
        if name not in results:
            continue
        r = results[name]
        by_sex = "  ".join(
            f"{g} {v['recall']:.4f} [{v['ci95'][0]:.3f}, {v['ci95'][1]:.3f}]"
            if v["recall"] is not None else f"{g} (no visible face-frames)"
            for g, v in r["by_sex"].items())
        print(f"{name:10} {r['recall']:7.4f} {r['missed_face_frames']:7d} "
              f"{r['frames_with_uncovered_face']:15d} {r['frames_per_s']:9.2f}  {by_sex}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
