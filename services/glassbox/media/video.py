"""Video uploads: what a file is (by content), and the checks a video passes (PyAV).

:func:`sniff_kind` (from :mod:`glassbox.media.sniff`) tells a video from an image by its
first bytes, never by its name. :func:`probe_video` is the gate a video passes, in this order,
so that nothing expensive happens before the cheap checks have passed:

1. byte size (empty, over ``max_video_bytes``) and the signature (a container we accept);
2. the container opened by PyAV (FFmpeg) reading headers only: a video stream (not audio
   only, not a cover picture), a decoder for its codec, and the declared size, frame rate and
   duration against the limits, all before any frame is decoded;
3. the video packets' timestamps, demuxed without decoding: the real duration and frame
   count, a variable frame rate, a file that ends long before the duration it declares;
4. the first frame decoded (with FFmpeg's ``max_pixels`` guard), which proves it decodes.

Frame times always come from presentation timestamps (PTS), relative to the stream's start,
never from a frame's index divided by a rate. Opening a container and reading its header is
in :mod:`glassbox.media.video_container`, frame decoding in :mod:`glassbox.media.video_frames`,
the browser proxy and the poster in :mod:`glassbox.media.video_proxy`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import av
import av.error
import numpy as np

from glassbox.media.imaging import InvalidMedia, too_large
from glassbox.media.sniff import SNIFF_BYTES, sniff_container, sniff_kind
from glassbox.media.video_container import (
    VideoDecodeError,
    declared_duration_s,
    declared_rate,
    ends_early,
    open_video,
    rotation_of,
    start_pts,
)

if TYPE_CHECKING:
    from av.container import InputContainer
    from av.video.stream import VideoStream

    from glassbox.config import Settings

__all__ = [
    "ACCEPTED_CONTAINERS",
    "SNIFF_BYTES",
    "VideoDecodeError",
    "VideoInfo",
    "open_video",
    "probe_video",
    "sniff_container",
    "sniff_kind",
]

# Our container names (from the signature) -> MIME type. Only these are accepted.
ACCEPTED_CONTAINERS: dict[str, str] = {
    "mp4": "video/mp4",
    "mov": "video/quicktime",
    "webm": "video/webm",
    "mkv": "video/x-matroska",
    "avi": "video/x-msvideo",
}
_ACCEPTED_TEXT = "MP4, MOV, WebM, MKV or AVI"
# FFmpeg's demuxer name -> the containers of ours it may be.
_DEMUXERS = {
    "mov,mp4,m4a,3gp,3g2,mj2": ("mp4", "mov"),
    "matroska,webm": ("webm", "mkv"),
    "avi": ("avi",),
}
# Packets fed to the decoder before a first frame must have come out.
_FIRST_FRAME_PACKETS = 600


@dataclass(frozen=True)
class VideoInfo:
    container: str  # "mp4", "mov", "webm", "mkv" or "avi" (from the content)
    codec: str  # FFmpeg's decoder name: "h264", "vp9", "mpeg4", "mjpeg", ...
    width: int  # as displayed: after the rotation, like ImageInfo
    height: int
    fps: float  # declared average rate; the measured one when the rate is variable
    duration_s: float  # from the video packets' timestamps (the header's when it has none)
    frame_count: int  # video packets with data (one frame each)
    rotation: int  # 0, 90, 180 or 270: degrees clockwise that turn a stored frame upright
    variable_frame_rate: bool  # timestamps not evenly spaced
    has_audio: bool
    mime: str = "application/octet-stream"


def probe_video(path: str | os.PathLike[str], cfg: Settings) -> VideoInfo:
    """Validate a video file and describe it; raise :class:`InvalidMedia` if it is refused.

    ======================  ======  =========================================================
    code                    status  when
    ======================  ======  =========================================================
    empty_file              400     zero bytes
    too_large               413     over ``max_video_bytes``
    not_a_video             415     an image, or no signature of a video container
    unsupported_type        415     a container other than MP4, MOV, WebM, MKV, AVI
    no_video_stream         415     audio only (a cover picture is not a video)
    unsupported_codec       415     no decoder for the video codec
    dimensions_too_large    413     declared or decoded size over the limits
    frame_rate_too_high     413     declared or measured frame rate over ``max_video_fps``
    too_long                413     declared or measured duration over the limit
    truncated               400     an MP4 without its index (moov), data ending early
    corrupt                 400     a container FFmpeg cannot read, no decodable first frame
    ======================  ======  =========================================================
    """
    path = Path(path)
    size = path.stat().st_size
    if size == 0:
        raise InvalidMedia("empty_file", "The uploaded file is empty.", 400)
    if size > cfg.max_video_bytes:
        raise too_large(cfg.max_video_bytes, size)
    with path.open("rb") as fh:
        head = fh.read(SNIFF_BYTES)
    sniffed = sniff_container(head)
    if sniffed is None or sniffed.startswith("image/"):
        what = "an image" if sniffed else "not a video we can read"
        raise InvalidMedia("not_a_video", f"The file is {what}; upload {_ACCEPTED_TEXT}.", 415)
    if sniffed not in ACCEPTED_CONTAINERS:
        raise InvalidMedia(
            "unsupported_type",
            f"{sniffed.upper()} videos are not supported; use {_ACCEPTED_TEXT}.",
            415,
        )
    if sniffed in ("mp4", "mov"):
        _check_iso_boxes(path, size)
    with open_video(path, sniffed, _avi_fourcc(head)) as (container, stream):
        name = _container_name(container, sniffed)
        codec, width, height = _check_header(container, stream, cfg)
        timing = _scan_timestamps(container, stream, cfg)
    rotation = _check_first_frame(path, cfg)
    if rotation in (90, 270):
        width, height = height, width
    return VideoInfo(
        container=name,
        codec=codec,
        width=width,
        height=height,
        fps=round(timing.fps, 3),
        duration_s=round(timing.duration_s, 3),
        frame_count=timing.frame_count,
        rotation=rotation,
        variable_frame_rate=timing.variable,
        has_audio=timing.has_audio,
        mime=ACCEPTED_CONTAINERS[name],
    )


# --- the container ------------------------------------------------------------------------


def _container_name(container: InputContainer, sniffed: str) -> str:
    choices = _DEMUXERS.get(container.format.name)
    if choices is None:
        raise InvalidMedia(
            "unsupported_type",
            f"{container.format.long_name or container.format.name} videos are not supported; "
            f"use {_ACCEPTED_TEXT}.",
            415,
        )
    return sniffed if sniffed in choices else choices[0]


def _avi_fourcc(head: bytes) -> str:
    """The FourCC of an AVI's first video stream ("XVID", "MJPG"), quoted; "" if none."""
    at = head.find(b"strh")
    if at < 0 or head[at + 8 : at + 12] != b"vids":
        return ""
    fourcc = head[at + 12 : at + 16].decode("latin-1").strip()
    return f"'{fourcc}'" if fourcc.isprintable() and fourcc else ""


def _check_iso_boxes(path: Path, size: int) -> None:
    """An MP4/MOV without a ``moov`` box before its boxes run past the end of the file (its
    index: a recording or an upload cut off before it was written) is ``truncated``."""
    pos = 0
    with path.open("rb") as fh:
        while pos + 8 <= size:
            fh.seek(pos)
            header = fh.read(16)
            box_size = int.from_bytes(header[:4], "big")
            if header[4:8] == b"moov":
                return
            if box_size == 1 and len(header) >= 16:  # a 64-bit size follows
                box_size = int.from_bytes(header[8:16], "big")
            elif box_size == 0:  # the last box, to the end of the file
                box_size = size - pos
            if box_size < 8:
                return  # not a box structure we can follow: FFmpeg judges
            pos += box_size
    raise InvalidMedia(
        "truncated",
        "The video file is incomplete: its index (the MP4 'moov' box) is missing, as when a "
        "recording or an upload is cut off; upload the whole file.",
        400,
    )


# --- the header ---------------------------------------------------------------------------


def _check_header(
    container: InputContainer, stream: VideoStream, cfg: Settings
) -> tuple[str, int, int]:
    """Codec, declared width and height; refuses sizes, rates and durations over the limits."""
    ctx = stream.codec_context
    width, height = int(ctx.width or 0), int(ctx.height or 0)
    if width <= 0 or height <= 0:
        raise InvalidMedia("corrupt", "The video declares no picture size.", 400)
    check_dimensions(width, height, cfg)
    rate = declared_rate(stream)
    if rate is not None and rate > cfg.max_video_fps:
        raise frame_rate_too_high(rate, cfg)
    declared = declared_duration_s(container, stream, video_only=False)
    if declared is not None and declared > cfg.max_video_duration_s:
        raise too_long(declared, cfg)
    return ctx.name, width, height


def check_dimensions(width: int, height: int, cfg: Settings) -> None:
    side, pixels = cfg.max_video_side, cfg.max_video_pixels
    if max(width, height) > side or width * height > pixels:
        raise InvalidMedia(
            "dimensions_too_large",
            f"The video is {width}×{height} pixels; the limit is {side} pixels on a side and "
            f"{pixels:,} pixels in all.",
            413,
        )


def frame_rate_too_high(rate: float, cfg: Settings) -> InvalidMedia:
    return InvalidMedia(
        "frame_rate_too_high",
        f"The video has {_num(rate)} frames per second; the limit is {_num(cfg.max_video_fps)}.",
        413,
    )


def too_long(duration_s: float, cfg: Settings) -> InvalidMedia:
    return InvalidMedia(
        "too_long",
        f"The video lasts {_clock(duration_s)}; the limit is {_clock(cfg.max_video_duration_s)}.",
        413,
    )


# --- timestamps -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Timing:
    duration_s: float
    frame_count: int
    fps: float
    variable: bool
    has_audio: bool


def _scan_timestamps(container: InputContainer, stream: VideoStream, cfg: Settings) -> _Timing:
    """Demux (never decode) the video packets: real duration, frame count, rate regularity."""
    for other in container.streams:
        if other is not stream:
            other.discard = av.stream.Discard.all
    declared = declared_duration_s(container, stream)
    limit_s = cfg.max_video_duration_s
    start = start_pts(stream)
    tb = float(stream.time_base or 1)
    budget = int(cfg.max_video_fps * limit_s * 1.1) + 100
    stamps: list[int] = []
    try:
        for packet in container.demux(stream):
            if packet.stream is not stream or packet.size == 0:
                continue
            pts = packet.pts if packet.pts is not None else packet.dts
            if pts is None:
                continue
            stamps.append(pts)
            if (pts - start) * tb > limit_s + 1.0:
                raise too_long((pts - start) * tb, cfg)
            if len(stamps) > budget:
                rate = len(stamps) / max((max(stamps) - min(stamps)) * tb, 1e-9)
                raise frame_rate_too_high(rate, cfg)
    except av.error.FFmpegError:
        pass  # the data ends in garbage: what was read is judged below, the decoder decides
    if not stamps:
        raise InvalidMedia("corrupt", "The video stream holds no frames.", 400)
    pts = np.unique(np.asarray(stamps, dtype=np.int64))
    deltas = np.diff(pts) * tb
    step = float(np.median(deltas)) if deltas.size else 0.0
    rate = declared_rate(stream)
    duration = float((pts[-1] - min(pts[0], start)) * tb + step)
    if not deltas.size:  # a single frame lasts what the header says, or one frame
        duration = declared or (1.0 / rate if rate else 0.0)
    variable = is_variable(deltas, tb)
    measured = (len(pts) - 1) / float((pts[-1] - pts[0]) * tb) if len(pts) > 1 else rate
    if measured and measured > cfg.max_video_fps * 1.05:
        raise frame_rate_too_high(measured, cfg)
    if duration > limit_s:
        raise too_long(duration, cfg)
    if declared and ends_early(duration, declared, container, stream):
        raise InvalidMedia(
            "truncated",
            f"The video declares {declared:.1f} s but its frames end at {duration:.1f} s: the "
            "file is incomplete or damaged; upload it again.",
            400,
        )
    fps = (measured if variable or not rate else rate) or 0.0
    return _Timing(duration, len(stamps), fps, variable, bool(container.streams.audio))


def is_variable(deltas_s: np.ndarray, tick_s: float) -> bool:
    """True when the gaps between sorted timestamps are not evenly spaced: at least two (and
    1% of them) differ from the median gap by more than 10% of it and one and a half ticks
    of the time base (Matroska's 1 ms ticks make 24 fps alternate between 41 and 42 ms)."""
    if deltas_s.size < 2:
        return False
    step = float(np.median(deltas_s))
    tolerance = max(0.1 * step, 1.5 * tick_s)
    irregular = int(np.count_nonzero(np.abs(deltas_s - step) > tolerance))
    return irregular >= max(2, 0.01 * deltas_s.size)


# --- the first frame ----------------------------------------------------------------------


def _check_first_frame(path: Path, cfg: Settings) -> int:
    """Decode the first frame (FFmpeg refuses frames over ``max_video_pixels`` before it
    allocates them); its rotation (degrees clockwise), from the display matrix."""
    with open_video(path) as (container, stream):
        stream.codec_context.options = {"max_pixels": str(cfg.max_video_pixels)}
        fed = 0
        try:
            for packet in container.demux(stream):
                for frame in packet.decode():
                    check_dimensions(frame.width, frame.height, cfg)
                    return rotation_of(frame)
                fed += 1
                if fed >= _FIRST_FRAME_PACKETS:
                    break
        except av.error.FFmpegError as exc:
            raise InvalidMedia(
                "corrupt", "The video's first frame cannot be decoded; the data is corrupt.", 400
            ) from exc
    raise InvalidMedia("corrupt", "No frame of the video could be decoded.", 400)


def _num(x: float) -> str:
    return f"{x:,.0f}" if abs(x - round(x)) < 0.05 else f"{x:,.2f}"


def _clock(s: float) -> str:
    minutes, secs = divmod(round(s), 60)
    return f"{minutes} min {secs} s" if minutes else f"{s:.1f} s"
