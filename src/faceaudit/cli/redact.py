"""``faceaudit redact INPUT -o OUTPUT``: hide every face in a video, an image or a folder.

The command only parses options, shows progress and prints a summary; the work is in
:mod:`faceaudit.footage`. ``--keep`` (leave a consented, enrolled subject visible) needs a
deployment and is policy-checked and logged there (:mod:`faceaudit.deployment.footage_keep`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from faceaudit.base.errors import InputDataError
from faceaudit.base.progress import ProgressReport, ProgressTask
from faceaudit.cli.options import ActorOption, HomeOption
from faceaudit.cli.output import JsonOption, emit
from faceaudit.footage.detection import REDACT_THRESHOLD


def _pairs(src: Path, dst: Path) -> list[tuple[Path, Path]]:
    from faceaudit.engine.embed_files import IMAGE_SUFFIXES
    from faceaudit.footage.pipeline import is_video

    if src.is_dir():
        if dst.exists() and not dst.is_dir():
            raise InputDataError(f"{dst}: INPUT is a folder, so OUTPUT must be a folder")
        dst.mkdir(parents=True, exist_ok=True)
        files = sorted(p for p in src.iterdir() if p.is_file()
                       and (p.suffix.lower() in IMAGE_SUFFIXES or is_video(p)))
        if not files:
            raise InputDataError(f"{src}: no image or video files in the folder")
        return [(p, dst / p.name) for p in files]
    if not src.exists() and not src.is_symlink():
        raise InputDataError(f"{src}: no such file or folder")
    if dst.is_dir():
        return [(src, dst / src.name)]
    if not dst.parent.is_dir():
        raise InputDataError(f"cannot write {dst}: folder {dst.parent} does not exist")
    return [(src, dst)]


def redact_command(
    input_path: Annotated[Path, typer.Argument(
        metavar="INPUT", help="Video (mp4/mkv/avi/mov), image, or a folder of them")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output file (or folder)")],
    style: Annotated[str, typer.Option(help="blur, pixelate or box (all irreversible)")] = "blur",
    detector: Annotated[str, typer.Option(help="centerface (default), hog or cnn")] = "centerface",
    threshold: Annotated[float, typer.Option(help="CenterFace score threshold")] = REDACT_THRESHOLD,
    scale: Annotated[float, typer.Option(help="Resize frames by this for detection")] = 1.0,
    pad: Annotated[float, typer.Option(help="Pad boxes by this × width/height per side")] = 0.25,
    lead: Annotated[int, typer.Option(help="Redact a track this many frames early")] = 5,
    lag: Annotated[int, typer.Option(help="…and this many frames after it ends")] = 5,
    detect_every: Annotated[int, typer.Option(
        help="Detect on every k-th frame, tracks in between (default 1: every frame)")] = 1,
    review: Annotated[Path | None, typer.Option(
        help="Write a contact sheet PNG of doubtful frames into this folder")] = None,
    keep: Annotated[list[str] | None, typer.Option(
        help="Leave this consented, enrolled subject visible (needs --home, --purpose, --case)"
    )] = None,
    purpose: Annotated[str | None, typer.Option(help="Why (deployment runs)")] = None,
    case: Annotated[str | None, typer.Option(help="Case reference (deployment runs)")] = None,
    home: HomeOption = None,
    actor: ActorOption = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar")] = False,
    as_json: JsonOption = False,
) -> None:
    """Redact every face in INPUT into OUTPUT and write OUTPUT.redaction.json beside it.

    Videos keep their codec family, frame rate and audio (copied unchanged); the output is
    written to a temporary file and renamed only when complete. Exit 2 (one line) for a file
    that is not a video or image, or a truncated one.
    """
    from faceaudit.footage.detection import DetectorSettings
    from faceaudit.footage.pipeline import RedactSettings, redact_file
    from faceaudit.footage.tracking import TrackSettings

    settings = RedactSettings(
        detector=DetectorSettings(detector, threshold, scale),
        tracking=TrackSettings(pad=pad, lead=lead, lag=lag),
        style=style, detect_every=detect_every, review_dir=review,
    )
    session = None
    if keep or home is not None:  # a policy refusal exits 5 (faceaudit.cli.grammar)
        from faceaudit.deployment.footage_keep import KeepSession

        session = KeepSession.open(home, actor, keep or [], purpose, case)
    pairs = _pairs(input_path, output)
    summaries = []
    with ProgressReport(enabled=not quiet) as report:
        for src, dst in pairs:
            tasks: dict[str, ProgressTask] = {}

            def progress(phase: str, done: int, total: int, src: Path = src,
                         tasks: dict[str, ProgressTask] = tasks) -> None:
                if phase not in tasks:
                    tasks[phase] = report.task(f"{phase} {src.name}", total or None, "frames")
                tasks[phase].update(done, total or None)

            matcher = session.matcher() if session else None
            log = redact_file(src, dst, settings, progress, matcher)
            if session:
                session.record(log)
            summaries.append({"input": str(src), "output": str(dst),
                              "log": str(dst) + ".redaction.json", **log["summary"],
                              "review": (log["review"] or {}).get("sheet")})
    emit({"redacted": summaries}, as_json, _view)


def _view(data: dict) -> str:
    """One line per file: what was redacted, where the output and its log are."""
    return "\n".join(
        f"{row['input']} -> {row['output']}: {row['boxes_redacted']} face boxes redacted in"
        f" {row['frames']} frame(s), {row['tracks']} track(s); log {row['log']}"
        for row in data["redacted"])
