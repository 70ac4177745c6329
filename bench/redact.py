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

    python bench/redact.py --out redaction-report   # 40 faces, 16 s, 1280×720, 25 fps
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
from pathlib import Path

from faceaudit.audit.engine import AuditSettings
from faceaudit.audit.redaction import redaction_report, redaction_section, tool_section
from faceaudit.audit.report import write_report
from faceaudit.footage.coverage import coverage, shapes_from_log

REPO = Path(__file__).resolve().parents[1]
CLIP_TOOL = REPO / "scripts" / "make_redaction_clip.py"
GROUPS = ("female", "male")
FACEAUDIT_NOTES = ("CenterFace every frame, ByteTrack, padded boxes; decode twice, encode H.264, "
                   "write the log")
DEFACE_NOTES = ("deface 1.5 defaults (threshold 0.2, mask scale 1.3, ellipse blur), every frame, "
                "no tracking; decode once, no encoding")


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
    return shapes_from_log(log), log["summary"]["frames"] / seconds


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


def measure(name: str, truth: dict, shapes: dict[int, list], fps: float,
            settings: AuditSettings, notes: str) -> dict:
    """One tool's entry of the report's ``redaction`` section."""
    groups = {f["id"]: f["sex"] for f in truth["faces"]}
    return tool_section(name, coverage(truth, shapes), groups, GROUPS, settings,
                        frames_per_s=fps, notes=notes)


def _fmt(estimate: dict) -> str:
    if estimate["value"] is None:
        return "—"
    if estimate["low"] is None:
        return f"{estimate['value']:.4f}"
    return f"{estimate['value']:.4f} [{estimate['low']:.4f}, {estimate['high']:.4f}]"


def print_table(report: dict) -> None:
    """The report's redaction section as a terminal table."""
    section = report["redaction"]
    clip = section["clip"]
    print(f"clip: {clip['width']}x{clip['height']}, {clip['frames']} frames at {clip['fps']} fps, "
          f"{clip['faces']} LFW faces ({clip['female']} female), about {clip['on_screen']} "
          "in view at a time")
    print(f"{'tool':10} {'recall [95% CI]':>27} {'missed':>7} {'of':>7} {'frames w/ miss':>15} "
          f"{'frames/s':>9}")
    for tool in section["tools"]:
        print(f"{tool['tool']:10} {_fmt(tool['recall']):>27} {tool['missed_face_frames']:7d} "
              f"{tool['face_frames']:7d} {tool['frames_with_uncovered_face']:15d} "
              f"{tool['frames_per_s']:9.2f}")
        for group in tool["per_group"]:
            print(f"  {group['group']:8} {_fmt(group['recall']):>27} "
                  f"{group['missed_face_frames']:7d} {group['face_frames']:7d} "
                  f"{group['frames_with_uncovered_face']:15d}   ({group['faces']} faces)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lfw", type=Path, default=REPO.parent / "shared" / "data" / "lfw")
    parser.add_argument("--meta", type=Path,
                        default=REPO.parent / "shared" / "data" / "lfw-meta")
    parser.add_argument("--faces", type=int, default=40)
    parser.add_argument("--on-screen", type=int, default=8,
                        help="about this many faces in view at a time")
    parser.add_argument("--seconds", type=float, default=16.0)
    parser.add_argument("--fps", type=int, default=25)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-deface", action="store_true", help="only faceaudit")
    parser.add_argument("--out", type=Path, default=Path("redaction-report"),
                        help="folder for report.json and report.html (the audit report format)")
    args = parser.parse_args()

    tool = _clip_tool()
    settings = AuditSettings(targets=(), reps=args.bootstrap, seed=args.seed)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="faceaudit-redact-bench-") as tmp:
        clip = Path(tmp) / "clip.mp4"
        people = tool.lfw_people(args.lfw, args.meta, args.faces, args.seed)
        print(f"making a {args.seconds:g} s clip of {len(people)} faces …", file=sys.stderr)
        truth = tool.make_clip(clip, people, args.width, args.height, args.seconds, args.fps,
                               args.seed, on_screen=args.on_screen)
        print("redacting with faceaudit …", file=sys.stderr)
        shapes, fps = run_faceaudit(clip, Path(tmp) / "out.mp4")
        tools = [measure("faceaudit", truth, shapes, fps, settings, FACEAUDIT_NOTES)]
        if not args.no_deface:
            print("redacting with deface …", file=sys.stderr)
            shapes, fps = run_deface(clip)
            tools.append(measure("deface", truth, shapes, fps, settings, DEFACE_NOTES))
    clip_info = {"generator": "scripts/make_redaction_clip.py", "width": args.width,
                 "height": args.height, "fps": args.fps, "frames": truth["frames"],
                 "faces": len(people), "female": sum(p["sex"] == "female" for p in people),
                 "on_screen": min(args.on_screen or len(people), len(people)), "seed": args.seed,
                 "face_heights_px": [round(40 * args.height / 720), round(160 * args.height / 720)]}
    report = redaction_report(
        redaction_section(clip_info, GROUPS, tools), settings,
        input_path=f"bench/redact.py --faces {args.faces} --on-screen {args.on_screen} "
                   f"--seconds {args.seconds:g} --seed {args.seed}",
        attributes=str(args.meta), by=["sex"], duration_s=time.perf_counter() - started)
    write_report(report, args.out)
    print_table(report)
    print(f"report: {args.out / 'report.json'}, {args.out / 'report.html'}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
