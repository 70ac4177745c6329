"""Video in and out with PyAV: probe, decode every frame, re-encode with the audio copied.

The output keeps the input's container, codec family, frame rate, time base and frame
timestamps; audio packets are copied unchanged (no re-encode). A file that is not a video, or a
video whose frames end before its header says they should (truncated), is refused with
:class:`FootageError`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from faceaudit.base.errors import FaceAuditError

VIDEO_SUFFIXES = (".mp4", ".mkv", ".avi", ".mov")

#: Encoders tried, in order, for each input codec: the same family as the input.
ENCODERS: dict[str, tuple[str, ...]] = {
    "h264": ("libx264", "h264"),
    "hevc": ("libx265", "hevc"),
    "mpeg4": ("mpeg4",),
    "vp8": ("libvpx",),
    "vp9": ("libvpx-vp9",),
    "av1": ("libsvtav1", "libaom-av1"),
    "mjpeg": ("mjpeg",),
    "ffv1": ("ffv1",),
    "rawvideo": ("rawvideo",),
}
_CRF = {"libx264": "18", "libx265": "20"}


class FootageError(FaceAuditError):
    """A clip that cannot be redacted: not a video, truncated, or no encoder for its codec."""

    code = "footage-error"
    http_status = 422


@dataclass(frozen=True)
class VideoInfo:
    """What the header of a clip says: size, rate, codec, expected frames, audio present."""

    width: int
    height: int
    fps: Fraction
    codec: str
    pix_fmt: str
    expected_frames: int
    has_audio: bool
    container: str

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {
            "width": self.width, "height": self.height, "fps": str(self.fps),
            "codec": self.codec, "pix_fmt": self.pix_fmt,
            "expected_frames": self.expected_frames, "audio": self.has_audio,
            "container": self.container,
        }


def _open(path: Path):
    import av

    try:
        return av.open(str(path), mode="r")
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise FootageError(f"{path}: not a readable video ({exc.__class__.__name__})") from None


def _expected_frames(stream, container) -> int:
    if stream.frames:
        return int(stream.frames)
    rate = stream.average_rate or stream.guessed_rate
    if stream.duration is not None and stream.time_base and rate:
        return int(round(float(stream.duration * stream.time_base * rate)))
    if container.duration and rate:
        return int(round(container.duration / 1_000_000 * float(rate)))
    return 0


def probe(path: Path) -> VideoInfo:
    """Read ``path``'s header: refuse a file with no video stream (FootageError)."""
    with _open(path) as container:
        if not container.streams.video:
            raise FootageError(f"{path}: no video stream")
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate
        if not rate or not stream.codec_context.width:
            raise FootageError(f"{path}: video stream has no frame rate or size")
        return VideoInfo(
            width=stream.codec_context.width, height=stream.codec_context.height,
            fps=Fraction(rate), codec=stream.codec_context.name,
            pix_fmt=stream.codec_context.pix_fmt or "yuv420p",
            expected_frames=_expected_frames(stream, container),
            has_audio=bool(container.streams.audio),
            container=container.format.name,
        )


def _check_complete(path: Path, decoded: int, expected: int) -> None:
    if decoded == 0:
        raise FootageError(f"{path}: no decodable video frame (truncated or corrupt)")
    if expected and decoded < expected - max(1, expected // 100):
        raise FootageError(
            f"{path}: truncated: decoded {decoded} of the {expected} frames its header declares")


def decode_frames(path: Path, info: VideoInfo) -> Iterator[np.ndarray]:
    """Yield every frame of ``path`` as (H, W, 3) RGB uint8, in presentation order.

    Raises :class:`FootageError` when decoding fails or the frames end early (truncated).
    """
    import av

    decoded = 0
    with _open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        try:
            for frame in container.decode(stream):
                decoded += 1
                yield frame.to_ndarray(format="rgb24")
        except av.error.FFmpegError as exc:
            raise FootageError(f"{path}: corrupt or truncated video at frame {decoded} "
                               f"({exc.__class__.__name__})") from None
    _check_complete(path, decoded, info.expected_frames)


def encoder_for(codec: str) -> str:
    """The encoder of ``codec``'s family that this PyAV build has (FootageError if none)."""
    import av

    for name in ENCODERS.get(codec, (codec,)):
        try:
            av.codec.Codec(name, "w")
            return name
        except (av.error.FFmpegError, ValueError, av.codec.codec.UnknownCodecError):
            continue
    raise FootageError(f"no encoder for the input's codec {codec!r} in this PyAV build")


def _pix_fmt(encoder: str, wanted: str) -> str:
    import av

    formats = av.codec.Codec(encoder, "w").video_formats or ()
    names = [f.name for f in formats]
    if not names or wanted in names:
        return wanted
    return "yuv420p" if "yuv420p" in names else names[0]


def transcode(
    path: Path,
    out_path: Path,
    info: VideoInfo,
    transform: Callable[[int, np.ndarray], np.ndarray],
) -> tuple[int, str]:
    """Re-encode ``path`` into ``out_path`` with each frame passed through ``transform``.

    ``transform(index, rgb)`` returns the RGB frame to write. Audio streams are copied packet
    by packet; other streams (subtitles, data) are dropped. Returns (frames written, encoder).
    """
    import av

    encoder = encoder_for(info.codec)
    written = 0
    with _open(path) as source, av.open(str(out_path), mode="w") as sink:
        video_in = source.streams.video[0]
        video_in.thread_type = "AUTO"
        video_out = sink.add_stream(encoder, rate=info.fps)
        assert isinstance(video_out, av.VideoStream)  # a video encoder gives a video stream
        video_out.width, video_out.height = info.width, info.height
        video_out.pix_fmt = _pix_fmt(encoder, info.pix_fmt)
        video_out.time_base = video_in.time_base
        if encoder in _CRF:
            video_out.options = {"crf": _CRF[encoder], "preset": "veryfast"}
        elif video_in.bit_rate:
            video_out.bit_rate = video_in.bit_rate
        audio_map = {s.index: sink.add_stream_from_template(s) for s in source.streams.audio}
        try:
            for packet in source.demux(video_in, *source.streams.audio):
                if packet.stream.index in audio_map:
                    if packet.dts is None:
                        continue
                    packet.stream = audio_map[packet.stream.index]
                    sink.mux(packet)
                    continue
                for frame in packet.decode():
                    rgb = transform(written, frame.to_ndarray(format="rgb24"))
                    out = av.VideoFrame.from_ndarray(rgb, format="rgb24")
                    out.pts, out.time_base = frame.pts, frame.time_base
                    sink.mux(video_out.encode(out))
                    written += 1
            sink.mux(video_out.encode(None))
        except av.error.FFmpegError as exc:
            raise FootageError(f"{path}: corrupt or truncated video at frame {written} "
                               f"({exc.__class__.__name__})") from None
    _check_complete(path, written, info.expected_frames)
    return written, encoder
