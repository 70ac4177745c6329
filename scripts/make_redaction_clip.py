"""Make a labelled test clip for redaction: real LFW faces moving over a background.

Each face is a crop of an LFW photo (known identity, sex from LFW's published name lists),
composited with a feathered elliptical mask, and moves, scales, squeezes (a turn of the head),
rolls a little, is sometimes passed by an occluding pole and sometimes motion-blurred. The clip
(H.264 + an AAC tone, or any container PyAV writes) comes with ground truth: per frame and face
its box, the share of it left visible, and the rectangles hiding the rest (the pole, faces in
front), in ``CLIP.truth.json``: ``boxes`` rows are [frame, face, x1, y1, x2, y2, visible,
hiders].

The ground-truth box is fixed in LFW's own geometry (LFW images are centred and scaled on the
face by construction): (75, 70)–(175, 190) of the 250×250 photo, brow to chin, cheek to cheek —
independent of any detector under test.

    python scripts/make_redaction_clip.py OUT.mp4 --lfw ../shared/data/lfw \
        --meta ../shared/data/lfw-meta --faces 10 --seconds 3 --width 1280 --height 720
"""

from __future__ import annotations

import argparse
import json
import math
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from faceaudit.footage.coverage import visible_mask

#: Where each LFW photo is cropped (250×250 source) and where the face is inside it.
CROP = (45, 35, 205, 225)
FACE_IN_LFW = (75, 70, 175, 190)


def lfw_people(lfw: Path, meta: Path, n_faces: int, seed: int = 0) -> list[dict]:
    """``n_faces`` LFW photos of distinct people, half female half male: path, name, sex."""
    rng = np.random.default_rng(seed)
    out = []
    per_group = {"female": (n_faces + 1) // 2, "male": n_faces // 2}
    for sex, count in per_group.items():
        names = (meta / f"{sex}_names.txt").read_text().split()
        people = sorted({n.rsplit("_", 1)[0] for n in names})
        chosen = 0
        for person in rng.permutation(people):
            if chosen == count:
                break
            photo = lfw / person / f"{person}_0001.jpg"
            if photo.is_file():
                out.append({"path": str(photo), "identity": str(person), "sex": sex})
                chosen += 1
    return out


def _patch(path: str) -> tuple[Image.Image, Image.Image]:
    photo = Image.open(path).convert("RGB").crop(CROP)
    mask = Image.new("L", photo.size, 0)
    w, h = photo.size
    ImageDraw.Draw(mask).ellipse([w * 0.08, h * 0.04, w * 0.92, h * 0.97], fill=255)
    return photo, mask.filter(ImageFilter.GaussianBlur(6))


def _background(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    coarse = rng.integers(40, 220, (9, 16, 3), dtype=np.uint8)
    image = Image.fromarray(coarse).resize((width, height), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        x, y = rng.integers(0, width), rng.integers(0, height)
        w, h = rng.integers(width // 20, width // 5), rng.integers(height // 20, height // 4)
        draw.rectangle([x, y, x + w, y + h], fill=tuple(int(v) for v in rng.integers(0, 255, 3)))
    return np.asarray(image)


def _motion_blur(patch: Image.Image, length: int) -> Image.Image:
    if length < 2:
        return patch
    arr = np.asarray(patch, np.float32)
    kernel = np.ones(length, np.float32) / length
    out = np.apply_along_axis(lambda row: np.convolve(row, kernel, mode="same"), 1, arr)
    return Image.fromarray(out.clip(0, 255).astype(np.uint8))


def _bounce(position: float, limit: float) -> float:
    """``position`` reflected off 0 and ``limit`` (a face bounces off the frame's edges)."""
    p = position % (2 * limit)
    return p if p <= limit else 2 * limit - p


def _face_box(left: float, top: float, scale: float, squeeze: float, angle: float,
              size: tuple[int, int]) -> tuple[float, float, float, float]:
    """The rotated ground-truth rectangle's bounding box in frame pixels."""
    w, h = size
    fx1, fy1 = (FACE_IN_LFW[0] - CROP[0]) * scale * squeeze, (FACE_IN_LFW[1] - CROP[1]) * scale
    fx2, fy2 = (FACE_IN_LFW[2] - CROP[0]) * scale * squeeze, (FACE_IN_LFW[3] - CROP[1]) * scale
    cx, cy = w / 2, h / 2
    rad = math.radians(angle)
    xs, ys = [], []
    for x, y in ((fx1, fy1), (fx2, fy1), (fx1, fy2), (fx2, fy2)):
        dx, dy = x - cx, y - cy  # PIL rotates counter-clockwise for positive angles
        xs.append(cx + dx * math.cos(rad) + dy * math.sin(rad))
        ys.append(cy - dx * math.sin(rad) + dy * math.cos(rad))
    return left + min(xs), top + min(ys), left + max(xs), top + max(ys)


def visible_fraction(box, hiders, step: float = 1.0) -> float:
    """Share of ``box`` not under any of the ``hiders`` rectangles (sampled on a grid)."""
    return float(visible_mask(box, hiders, step).mean())


def make_clip(out: Path, people: list[dict], width: int = 1280, height: int = 720,
              seconds: float = 3.0, fps: int = 25, seed: int = 0, audio: bool = True,
              min_face: int | None = None, max_face: int | None = None,
              on_screen: int | None = None) -> dict:
    """Write the clip to ``out`` and its ground truth to ``out.truth.json``; return the truth.

    Face heights (brow to chin) range over [min_face, max_face] pixels (default 40–160 at
    720 lines, in proportion otherwise). With ``on_screen`` (fewer than the faces), people come
    and go: each is in view for a stretch of ``on_screen / faces`` of the clip, the stretches
    staggered in a random order, so about ``on_screen`` faces are in view at a time; otherwise
    every face is in view throughout.
    """
    import av

    min_face = min_face or round(40 * height / 720)
    max_face = max_face or round(160 * height / 720)

    rng = np.random.default_rng(seed)
    background = _background(width, height, rng)
    frames = int(round(seconds * fps))
    patches = [_patch(p["path"]) for p in people]
    face_h = FACE_IN_LFW[3] - FACE_IN_LFW[1]
    motions = []
    for _ in people:
        motions.append({
            "x": rng.uniform(0.05, 0.8) * width, "y": rng.uniform(0.05, 0.7) * height,
            "vx": rng.uniform(-6, 6) * width / 1280, "vy": rng.uniform(-3, 3) * height / 720,
            "s0": rng.uniform(min_face, max_face) / face_h,
            "s_amp": rng.uniform(0.0, 0.3), "phase": rng.uniform(0, 2 * math.pi),
            "turn": rng.uniform(0, 0.35), "roll": rng.uniform(-12, 12),
            "blur": bool(rng.random() < 0.3),
        })
    spans = _spans(len(people), frames, on_screen, rng)
    pole_x = rng.uniform(0, width)
    pole_w, pole_v = width * 0.04, width * 0.012
    truth = {"width": width, "height": height, "fps": fps, "frames": frames,
             "faces": [{"id": i, **p, "frames": list(spans[i])} for i, p in enumerate(people)],
             "boxes": []}
    with av.open(str(out), mode="w") as sink:
        video = sink.add_stream("libx264" if out.suffix in (".mp4", ".mkv", ".mov")
                                else "mpeg4", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        if video.codec_context.name == "libx264":
            video.options = {"crf": "18", "preset": "veryfast"}
        tone = None
        if audio:
            tone = sink.add_stream("aac", rate=44100)
            tone.layout = "mono"
        for f in range(frames):
            canvas = Image.fromarray(background.copy())
            order = sorted((i for i in range(len(people)) if spans[i][0] <= f <= spans[i][1]),
                           key=lambda i: motions[i]["s0"])
            placed = []
            for i in order:
                m = motions[i]
                scale = m["s0"] * (1 + m["s_amp"] * math.sin(m["phase"] + f / fps * 2))
                squeeze = 1 - m["turn"] * (0.5 + 0.5 * math.sin(m["phase"] + f / fps * 3))
                angle = m["roll"] * math.sin(m["phase"] + f / fps)
                x = _bounce(m["x"] + m["vx"] * f, width * 0.9)
                y = _bounce(m["y"] + m["vy"] * f, height * 0.8)
                photo, mask = patches[i]
                size = (max(2, int(photo.width * scale * squeeze)),
                        max(2, int(photo.height * scale)))
                img = photo.resize(size, Image.Resampling.BILINEAR)
                msk = mask.resize(size, Image.Resampling.BILINEAR)
                if m["blur"]:
                    img = _motion_blur(img, int(abs(m["vx"]) * 1.5))
                img = img.rotate(angle, resample=Image.Resampling.BILINEAR, expand=False)
                msk = msk.rotate(angle, resample=Image.Resampling.BILINEAR, expand=False)
                canvas.paste(img, (int(x), int(y)), msk)
                inner = msk.getbbox() or (0, 0, 1, 1)  # the opaque part of the patch
                placed.append((i, _face_box(int(x), int(y), scale, squeeze, angle, size),
                               (int(x) + inner[0] + 4, int(y) + inner[1] + 4,
                                int(x) + inner[2] - 4, int(y) + inner[3] - 4)))
            px = (pole_x + pole_v * f) % (width + pole_w) - pole_w
            pole = (px, 0.0, px + pole_w, float(height))
            ImageDraw.Draw(canvas).rectangle(list(pole), fill=(90, 90, 90))
            for k, (i, (x1, y1, x2, y2), _) in enumerate(placed):
                x1, y1 = max(0.0, x1), max(0.0, y1)
                x2, y2 = min(float(width), x2), min(float(height), y2)
                if x2 - x1 < 4 or y2 - y1 < 4:
                    continue
                box = (x1, y1, x2, y2)
                hiders = [r for r in [pole] + [p[2] for p in placed[k + 1:]]
                          if min(r[2], x2) > max(r[0], x1) and min(r[3], y2) > max(r[1], y1)]
                truth["boxes"].append([f, i, *(round(v, 1) for v in box),
                                       round(visible_fraction(box, hiders), 3),
                                       [[round(v, 1) for v in r] for r in hiders]])
            frame = av.VideoFrame.from_ndarray(np.asarray(canvas), format="rgb24")
            frame.pts = f
            frame.time_base = Fraction(1, fps)
            sink.mux(video.encode(frame))
        sink.mux(video.encode(None))
        if tone is not None:
            _write_tone(sink, tone, seconds)
    out.with_name(out.name + ".truth.json").write_text(json.dumps(truth))
    return truth


def _spans(n_faces: int, frames: int, on_screen: int | None,
           rng: np.random.Generator) -> list[tuple[int, int]]:
    """First and last frame each face is in view (see :func:`make_clip`'s ``on_screen``)."""
    if not on_screen or on_screen >= n_faces:
        return [(0, frames - 1)] * n_faces
    length = max(1, round(frames * on_screen / n_faces))
    slots = rng.permutation(n_faces)
    step = (frames - length) / max(1, n_faces - 1)
    return [(int(round(slot * step)), int(round(slot * step)) + length - 1) for slot in slots]


def _write_tone(sink, stream, seconds: float) -> None:
    import av

    rate, chunk = 44100, 1024
    total = int(seconds * rate)
    for start in range(0, total, chunk):
        n = min(chunk, total - start)
        t = (np.arange(start, start + n) / rate).astype(np.float32)
        samples = (0.2 * np.sin(2 * math.pi * 440 * t)).astype(np.float32)[None]
        frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
        frame.sample_rate, frame.pts = rate, start
        sink.mux(stream.encode(frame))
    sink.mux(stream.encode(None))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--lfw", type=Path, default=Path("../shared/data/lfw"))
    parser.add_argument("--meta", type=Path, default=Path("../shared/data/lfw-meta"))
    parser.add_argument("--faces", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--fps", type=int, default=25)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--on-screen", type=int, default=None,
                        help="about this many faces in view at a time (default: all, always)")
    args = parser.parse_args()
    people = lfw_people(args.lfw, args.meta, args.faces, args.seed)
    truth = make_clip(args.out, people, args.width, args.height, args.seconds, args.fps,
                      args.seed, on_screen=args.on_screen)
    print(json.dumps({"clip": str(args.out), "frames": truth["frames"],
                      "face_frames": len(truth["boxes"])}))


if __name__ == "__main__":
    main()
