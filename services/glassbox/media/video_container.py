"""Opening a video with PyAV and reading what its header declares (no frame decoded here).

Shared by :mod:`glassbox.media.video` (the upload checks), :mod:`~glassbox.media.video_frames`
and :mod:`~glassbox.media.video_proxy`. A time in seconds is always a presentation timestamp
counted from the video stream's start (:func:`seconds`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from fractions import Fraction
from typing import TYPE_CHECKING

import av
import av.error
import numpy as np

from glassbox.media.imaging import InvalidMedia

if TYPE_CHECKING:
    from av.container import InputContainer
    from av.video.stream import VideoStream


class VideoDecodeError(Exception):
    """Decoding stopped before the end of the video: ``frames_decoded`` frames came out,
    the last at ``time_s`` seconds (None when none did). The message says why, in one line."""

    def __init__(self, reason: str, frames_decoded: int, time_s: float | None) -> None:
        where = (
            f"after {frames_decoded} frames ({time_s:.2f} s)"
            if time_s is not None
            else "before the first frame"
        )
        super().__init__(f"Video decoding failed {where}: {reason}")
        self.reason = reason
        self.frames_decoded = frames_decoded
        self.time_s = time_s


@contextmanager
def open_video(
    path: str | os.PathLike[str], sniffed: str | None = None, codec_hint: str = ""
) -> Iterator[tuple[InputContainer, VideoStream]]:
    """The container (headers read; no frame decoded but by FFmpeg's own stream probing)
    and its video stream, closed after.

    An unreadable container is :class:`InvalidMedia` ``corrupt``; a file without a video
    stream ``no_video_stream``; a codec without a decoder ``unsupported_codec``."""
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        kind = (sniffed or "video").upper()
        raise InvalidMedia(
            "corrupt", f"The file looks like {kind} but its container cannot be read.", 400
        ) from exc
    try:
        stream = video_stream(container, codec_hint)
        yield container, stream
    finally:
        container.close()


def video_stream(container: InputContainer, codec_hint: str = "") -> VideoStream:
    """The first video stream that is a moving picture (cover art and still images skipped);
    ``codec_hint`` names the codec in the refusal when FFmpeg has no decoder for it."""
    still = av.stream.Disposition.attached_pic | av.stream.Disposition.still_image
    streams = [s for s in container.streams.video if not (s.disposition & still)]
    if not streams:
        audio = " (audio only)" if container.streams.audio else ""
        raise InvalidMedia("no_video_stream", f"The file has no video stream{audio}.", 415)
    stream = streams[0]
    if stream.codec_context is None:  # FFmpeg knows no decoder (PyAV then names no codec)
        named = f" {codec_hint}" if codec_hint else ""
        raise InvalidMedia(
            "unsupported_codec",
            f"The video codec{named} has no decoder here; use H.264, VP8, VP9, MPEG-4 or MJPEG.",
            415,
        )
    return stream


def declared_rate(stream: VideoStream) -> float | None:
    """The frame rate the header declares (average, else FFmpeg's guess), None if none."""
    for rate in (stream.average_rate, stream.guessed_rate):
        if rate:
            return float(rate)
    return None


def declared_duration_s(
    container: InputContainer, stream: VideoStream, *, video_only: bool = True
) -> float | None:
    """The duration the header declares for the video stream (MP4 track, AVI frame count,
    Matroska's per-track DURATION tag); with ``video_only=False`` the container's as well."""
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    tag = stream.metadata.get("DURATION") or stream.metadata.get("duration")
    if tag:
        try:
            hours, minutes, seconds = tag.split(":")
            return int(hours) * 3600 + int(minutes) * 60 + float(seconds)
        except ValueError:
            pass
    only_video = len(container.streams) == 1
    if container.duration and (only_video or not video_only):
        return container.duration / 1_000_000
    return None


def start_pts(stream: VideoStream) -> int:
    """The stream's first presentation timestamp: times are counted from it."""
    return int(stream.start_time) if stream.start_time is not None else 0


def seconds(pts: int, stream: VideoStream, start: int) -> float:
    return float((pts - start) * (stream.time_base or Fraction(1, 1)))


def ends_early(
    end_s: float, declared_s: float, container: InputContainer, stream: VideoStream
) -> bool:
    """The video data ends short of the declared duration: by more than two frames in an AVI
    (its header counts the frames: a demuxer that skips damaged chunks renumbers the rest),
    elsewhere by more than a second and 10% (Matroska's and MP4's durations are looser)."""
    rate = declared_rate(stream)
    if container.format.name == "avi" and rate:
        return declared_s - end_s > 2.0 / rate
    return declared_s - end_s > max(1.0, 0.1 * declared_s)


def rotation_of(frame: av.VideoFrame) -> int:
    """Degrees clockwise (0, 90, 180, 270) that turn the frame upright. FFmpeg's display
    matrix angle is counter-clockwise, and a phone's portrait MP4 says -90 (90 clockwise)."""
    angle = -float(frame.rotation or 0)
    return int(round(angle / 90.0)) % 4 * 90


def upright(rgb: np.ndarray, rotation: int) -> np.ndarray:
    """The frame turned ``rotation`` degrees clockwise (a contiguous copy when turned)."""
    if rotation % 360 == 0:
        return rgb
    return np.ascontiguousarray(np.rot90(rgb, k=-(rotation // 90)))
