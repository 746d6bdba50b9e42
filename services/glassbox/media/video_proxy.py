"""What a browser plays and shows: a proxy of the video, and a poster frame (PyAV).

:func:`make_proxy` writes an H.264 MP4 (yuv420p, ``+faststart``, AAC audio when the source
has audio) with the bundled FFmpeg's libx264 (or libopenh264), and falls back to a VP9 (or
VP8) WebM with Opus audio when no H.264 encoder is there; it returns None when the original
already plays in browsers at the size asked for. Frame times are carried over from the
source's PTS, so a variable-frame-rate video keeps its timing and the proxy lasts as long.
:func:`poster_jpeg` picks a frame that is not black near 10% of the duration.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.error
import numpy as np
from av.video.reformatter import Interpolation, VideoReformatter
from PIL import Image

from glassbox.media.sniff import sniff_container
from glassbox.media.video_container import (
    VideoDecodeError,
    declared_duration_s,
    open_video,
    rotation_of,
    start_pts,
)
from glassbox.media.video_frames import (
    DECODE_ERRORS,
    PresentationClock,
    decode_reason,
    timed_frames,
    to_rgb,
)


@dataclass(frozen=True)
class ProxyInfo:
    path: Path
    mime: str  # "video/mp4" or "video/webm"
    width: int
    height: int


@dataclass(frozen=True)
class Encoder:
    video: str  # FFmpeg encoder name
    audio: str
    container: str  # muxer
    suffix: str
    mime: str
    options: dict[str, str]


# In order of preference. x264 "superfast" at CRF 23 runs about 8 times faster than real time
# on two cores at 720p (docs/decisions.md "Issue 10: video decoding"); VP9 only as a fallback.
_ENCODERS = (
    Encoder("libx264", "aac", "mp4", ".mp4", "video/mp4", {"preset": "superfast", "crf": "23"}),
    Encoder("libopenh264", "aac", "mp4", ".mp4", "video/mp4", {"rc_mode": "quality"}),
    Encoder(
        "libvpx-vp9",
        "libopus",
        "webm",
        ".webm",
        "video/webm",
        {"deadline": "realtime", "cpu-used": "8", "row-mt": "1", "crf": "33", "b": "0"},
    ),
    Encoder(
        "libvpx",
        "libopus",
        "webm",
        ".webm",
        "video/webm",
        {"deadline": "realtime", "cpu-used": "16", "crf": "10", "b": "2M"},
    ),
)
# What browsers play without a proxy: container -> video codecs, audio codecs.
_PLAYABLE = {
    "mp4": ({"h264"}, {"aac", "mp3"}),
    "webm": ({"vp8", "vp9"}, {"opus", "vorbis"}),
}
_AUDIO_FRAME_SAMPLES = {"aac": 1024, "libopus": 960}
# poster_jpeg: where to look (shares of the duration), frames tried at each, "not black".
_POSTER_AT = (0.10, 0.25, 0.5, 0.05, 0.75, 0.0)
_POSTER_FRAMES = 24
_NOT_BLACK_LUMA = 40  # the 95th percentile of the luma must reach this (of 255)


def proxy_encoder() -> Encoder:
    """The first encoder of the preference order that this FFmpeg build has."""
    available = av.codecs_available
    for enc in _ENCODERS:
        if enc.video in available and enc.audio in available and _can_encode(enc.video):
            return enc
    raise RuntimeError("FFmpeg has no H.264, VP9 or VP8 encoder for the browser proxy")


def _can_encode(name: str) -> bool:
    try:
        return av.Codec(name, "w").is_encoder
    except (av.error.FFmpegError, ValueError):
        return False


def make_proxy(
    src: str | os.PathLike[str], dst_dir: str | os.PathLike[str], max_height: int = 720
) -> ProxyInfo | None:
    """Write ``proxy.mp4`` (or ``proxy.webm``) into ``dst_dir``, no taller than
    ``max_height`` (never enlarged; even sides; upright), and describe it. None when the
    source already plays in browsers: H.264 (yuv420p) MP4 or VP8/VP9 WebM, with browser
    audio or none, no taller than ``max_height``. A decoding failure is a
    :class:`VideoDecodeError`, and leaves no file behind."""
    src, dst_dir = Path(src), Path(dst_dir)
    if _already_playable(src, max_height):
        return None
    enc = proxy_encoder()
    dst_dir.mkdir(parents=True, exist_ok=True)
    final = dst_dir / f"proxy{enc.suffix}"
    partial = dst_dir / f".proxy{enc.suffix}.part"
    try:
        width, height = _transcode(src, partial, enc, max_height)
        os.replace(partial, final)
    finally:
        partial.unlink(missing_ok=True)
    return ProxyInfo(final, enc.mime, width, height)


def _already_playable(src: Path, max_height: int) -> bool:
    with src.open("rb") as fh:
        container = sniff_container(fh.read(64))
    if container not in _PLAYABLE:
        return False
    codecs, audio_codecs = _PLAYABLE[container]
    with open_video(src) as (box, stream):
        ctx = stream.codec_context
        audio_ok = all(
            a.codec_context is not None and a.codec_context.name in audio_codecs
            for a in box.streams.audio
        )
        return (
            ctx.name in codecs
            and ctx.pix_fmt in ("yuv420p", "yuvj420p")
            and ctx.height <= max_height
            and audio_ok
        )


def _proxy_size(width: int, height: int, rotation: int, max_height: int) -> tuple[int, int]:
    """Upright, no taller than ``max_height``, never enlarged, both sides even."""
    if rotation in (90, 270):
        width, height = height, width
    if height > max_height:
        width, height = width * max_height / height, max_height
    return max(2, int(round(width / 2)) * 2), max(2, int(height) // 2 * 2)


def _transcode(src: Path, dst: Path, enc: Encoder, max_height: int) -> tuple[int, int]:
    rotation = _first_rotation(src)
    with open_video(src) as (box, vin):
        vin.codec_context.thread_type = "AUTO"
        ain = next((a for a in box.streams.audio if a.codec_context is not None), None)
        for other in box.streams:
            if other is not vin and other is not ain:
                other.discard = av.stream.Discard.all
        ctx = vin.codec_context
        width, height = _proxy_size(ctx.width, ctx.height, rotation, max_height)
        options = {"movflags": "+faststart"} if enc.container == "mp4" else {}
        out = av.open(str(dst), "w", format=enc.container, options=options)
        try:
            writer = _Writer(out, enc, vin, ain, width, height, rotation)
            writer.run(box)
        except DECODE_ERRORS as exc:
            raise VideoDecodeError(
                f"the proxy could not be written ({decode_reason(exc)})", 0, None
            ) from exc
        finally:
            out.close()
    return width, height


def _first_rotation(src: Path) -> int:
    with open_video(src) as (box, stream):
        try:
            for _time_s, frame in timed_frames(box, stream):
                return rotation_of(frame)
        except DECODE_ERRORS as exc:
            raise VideoDecodeError(decode_reason(exc), 0, None) from exc
    raise VideoDecodeError("no frame could be decoded", 0, None)


class _Writer:
    """Decodes the source's video (and first audio) stream in file order and encodes them
    into ``out``; video frames keep their presentation times, audio starts where it did
    relative to the video."""

    def __init__(self, out, enc: Encoder, vin, ain, width: int, height: int, rotation: int):
        self.out, self.vin, self.ain = out, vin, ain
        self.width, self.height, self.rotation = width, height, rotation
        self.tb = vin.time_base or Fraction(1, 1000)
        rate = vin.average_rate or vin.guessed_rate or Fraction(25)
        self.vout = out.add_stream(enc.video, rate=rate)
        self.vout.width, self.vout.height, self.vout.pix_fmt = width, height, "yuv420p"
        self.vout.codec_context.time_base = self.tb
        self.vout.codec_context.options = dict(enc.options)
        self.vout.codec_context.thread_count = min(os.cpu_count() or 1, 16)  # libvpx: not auto
        sar = vin.sample_aspect_ratio
        if sar and sar != 1 and not rotation:  # non-square pixels stay so: browsers widen them
            self.vout.codec_context.sample_aspect_ratio = sar
        self.aout = self.resampler = None
        if ain is not None:
            layout = "stereo" if ain.codec_context.layout.nb_channels >= 2 else "mono"
            self.aout = out.add_stream(enc.audio, rate=48000, layout=layout)
            self.resampler = av.AudioResampler(
                format="fltp" if enc.audio == "aac" else "flt",
                layout=layout,
                rate=48000,
                frame_size=_AUDIO_FRAME_SAMPLES[enc.audio],
            )
        self.reformatter = VideoReformatter()
        self.clock = PresentationClock(vin)
        self.video_start_s = float(start_pts(vin) * self.tb)
        self.frames, self.last_pts, self.last_t = 0, None, None
        self.audio_samples: int | None = None

    def run(self, box) -> None:
        streams = [s for s in (self.vin, self.ain) if s is not None]
        for packet in box.demux(*streams):
            if packet.stream is self.ain:
                self._audio(packet)
                continue
            try:
                decoded = packet.decode()
            except DECODE_ERRORS as exc:
                raise VideoDecodeError(decode_reason(exc), self.frames, self.last_t) from exc
            for frame in decoded:
                for time_s, shown in self.clock.push(frame):
                    self._video(time_s, shown)
        for time_s, shown in self.clock.flush():
            self._video(time_s, shown)
        if self.frames == 0:
            raise VideoDecodeError("no frame could be decoded", 0, None)
        self._mux(self.vout.encode())
        if self.aout is not None and self.audio_samples is not None:
            self._audio_chunks(self.resampler.resample(None))
            self._mux(self.aout.encode())

    def _mux(self, packets) -> None:
        for p in packets:
            self.out.mux(p)

    def _video(self, time_s: float, frame) -> None:
        pts = round(time_s / float(self.tb))
        if self.last_pts is not None and pts <= self.last_pts:
            return  # two frames on one tick of the time base cannot both be encoded
        picture = _picture(frame, self.reformatter, self.rotation, self.width, self.height)
        picture.pts, picture.time_base = pts, self.tb
        self._mux(self.vout.encode(picture))
        self.frames, self.last_pts, self.last_t = self.frames + 1, pts, time_s

    def _audio(self, packet) -> None:
        try:
            frames = packet.decode()
        except DECODE_ERRORS:
            return  # broken audio does not stop the picture
        for frame in frames:
            if self.audio_samples is None:  # where the audio starts on the video's clock
                t0 = float(frame.time) if frame.time is not None else self.video_start_s
                self.audio_samples = max(0, round((t0 - self.video_start_s) * 48000))
            self._audio_chunks(self.resampler.resample(frame))

    def _audio_chunks(self, chunks) -> None:
        for chunk in chunks:
            chunk.pts, chunk.time_base = self.audio_samples, Fraction(1, 48000)
            self.audio_samples += chunk.samples
            self._mux(self.aout.encode(chunk))


def _picture(frame, reformatter, rotation: int, width: int, height: int) -> av.VideoFrame:
    if rotation:
        rgb = to_rgb(frame, reformatter, rotation, (width, height))
        return av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
    return reformatter.reformat(
        frame, width, height, "yuv420p", interpolation=Interpolation.BICUBIC
    )


# --- the poster -----------------------------------------------------------------------------


def poster_jpeg(path: str | os.PathLike[str], side: int = 512, quality: int = 85) -> bytes:
    """A JPEG (no side over ``side``, upright) of the first frame that is not black from
    about 10% of the duration (then 25%, 50%, ... of it); the brightest frame seen when all
    are dark."""
    reformatter = VideoReformatter()
    best: tuple[float, av.VideoFrame] | None = None
    with open_video(path) as (box, stream):
        duration = declared_duration_s(box, stream, video_only=False) or 0.0
        start = start_pts(stream)
        tb = float(stream.time_base or 1)
        for share in _POSTER_AT:
            target = duration * share
            try:
                box.seek(start + int(target / tb), stream=stream, backward=True)
                picked = _bright_frame(timed_frames(box, stream), target, reformatter)
            except DECODE_ERRORS:
                continue
            if picked is None:
                continue
            score, frame = picked
            if score >= _NOT_BLACK_LUMA:
                best = picked
                break
            if best is None or score > best[0]:
                best = picked
        if best is None:
            raise VideoDecodeError("no frame for the poster could be decoded", 0, None)
        frame = best[1]
        rgb = to_rgb(frame, reformatter, rotation_of(frame), None, max_side=side)
    out = io.BytesIO()
    Image.fromarray(rgb).save(out, format="JPEG", quality=quality, optimize=True)
    return out.getvalue()


def _bright_frame(frames, target: float, reformatter):
    """Among up to _POSTER_FRAMES frames from ``target`` on: the first not black, else the
    brightest; (its 95th-percentile luma, frame)."""
    best = None
    tried = 0
    for time_s, frame in frames:
        if time_s + 1e-3 < target:
            continue
        luma = reformatter.reformat(frame, 64, 36, "gray").to_ndarray()
        score = float(np.percentile(luma, 95))
        if best is None or score > best[0]:
            best = (score, frame)
        if score >= _NOT_BLACK_LUMA:
            return best
        tried += 1
        if tried >= _POSTER_FRAMES:
            break
    return best
