"""Video uploads and decoding (glassbox.media.video*), on real files written here with PyAV.

The clips are tiny (160x120, 2 s) and made once per module; the last tests run on the
Debian sample Megamind.avi (package opencv-doc, installed by ``infra/bin/setup --test``).
"""

from __future__ import annotations

import io
import re
import struct
import time
from dataclasses import replace
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace

import av
import numpy as np
import pytest
from glassbox.config import Settings, load_settings
from glassbox.media import video, video_proxy
from glassbox.media.imaging import InvalidMedia
from glassbox.media.sniff import SNIFF_BYTES
from glassbox.media.video import VideoDecodeError, VideoInfo, probe_video, sniff_kind
from glassbox.media.video_frames import (
    PresentationClock,
    frames_at,
    iter_frames,
    small_frames_for_shots,
)
from glassbox.media.video_proxy import ProxyInfo, make_proxy, poster_jpeg
from PIL import Image

CFG = Settings()
MEGAMIND = Path("/usr/share/doc/opencv-doc/examples/data/Megamind.avi")
W, H, FPS, N = 160, 120, 24, 48  # the clips: 2 s


# --- writing test files -------------------------------------------------------------------


def picture(i: int, w: int = W, h: int = H, bright: bool = True) -> np.ndarray:
    """A frame that changes with i (a bar that grows), with a red marker at the top left."""
    img = np.full((h, w, 3), 40 if bright else 0, np.uint8)
    if bright:
        img[:, : (i * 3) % w + 1] = (60, 160, 220)
        img[h // 2 :, :, 1] = (i * 5) % 255
        img[:16, :16] = (255, 0, 0)
    return img


def write_clip(
    path: Path,
    codec: str,
    *,
    fmt: str | None = None,
    n: int = N,
    fps: int = FPS,
    size: tuple[int, int] = (W, H),
    pix_fmt: str = "yuv420p",
    pts_ms: list[int] | None = None,
    rotation: float | None = None,
    audio: str | None = None,
    options: dict[str, str] | None = None,
    black_until: int = 0,
) -> Path:
    w, h = size
    out = av.open(str(path), "w", format=fmt, options=options or {})
    stream = out.add_stream(codec, rate=fps)
    stream.width, stream.height, stream.pix_fmt = w, h, pix_fmt
    if pts_ms is not None:
        stream.codec_context.time_base = Fraction(1, 1000)
    if rotation is not None:
        stream.set_display_rotation(rotation)
    sound = out.add_stream(audio, rate=48000, layout="mono") if audio else None
    for i in range(n):
        frame = av.VideoFrame.from_ndarray(picture(i, w, h, i >= black_until), format="rgb24")
        if pts_ms is not None:
            frame.pts, frame.time_base = pts_ms[i], Fraction(1, 1000)
        out.mux(stream.encode(frame))
    out.mux(stream.encode())
    if sound is not None:
        write_tone(out, sound, seconds=n / fps)
    out.close()
    return path


def write_tone(out, sound, seconds: float) -> None:
    size = sound.codec_context.frame_size or 1024
    for k in range(int(48000 * seconds) // size):
        t = np.arange(k * size, (k + 1) * size) / 48000
        samples = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None]
        frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
        frame.sample_rate, frame.pts = 48000, k * size
        out.mux(sound.encode(frame))
    out.mux(sound.encode())


def write_audio_only(path: Path) -> Path:
    out = av.open(str(path), "w", format="mp4")
    write_tone(out, out.add_stream("aac", rate=48000, layout="mono"), seconds=1.0)
    out.close()
    return path


def jpeg(w: int, h: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), (90, 120, 200)).save(buf, "JPEG")
    return buf.getvalue()


def write_mjpeg_packets(path: Path, w: int, h: int, n: int = 3) -> Path:
    """An MJPEG AVI muxed from Pillow JPEGs (no encoder runs): cheap at any size."""
    data = jpeg(w, h)
    out = av.open(str(path), "w")
    stream = out.add_stream("mjpeg", rate=FPS)
    stream.width, stream.height, stream.pix_fmt = w, h, "yuvj420p"
    stream.codec_context.time_base = Fraction(1, FPS)
    for i in range(n):
        packet = av.Packet(data)
        packet.stream, packet.pts, packet.dts = stream, i, i
        packet.time_base, packet.is_keyframe = Fraction(1, FPS), True
        out.mux(packet)
    out.close()
    return path


def patch_avi(src: Path, dst: Path, *, rate: int | None = None, fourcc: bytes | None = None):
    """A copy of an AVI with its stream header's rate (dwRate/dwScale) or codec FourCC
    (strh fccHandler and strf biCompression) rewritten."""
    data = bytearray(src.read_bytes())
    strh, strf = data.find(b"strh") + 8, data.find(b"strf") + 8
    assert data[strh : strh + 4] == b"vids"
    if rate is not None:
        scale = struct.unpack("<I", data[strh + 20 : strh + 24])[0]
        data[strh + 24 : strh + 28] = struct.pack("<I", rate * scale)
    if fourcc is not None:
        data[strh + 4 : strh + 8] = fourcc
        data[strf + 16 : strf + 20] = fourcc
    dst.write_bytes(bytes(data))
    return dst


def corrupt_middle(src: Path, dst: Path, *, zeros: bool) -> Path:
    data = bytearray(src.read_bytes())
    a, n = len(data) // 2, len(data) // 10
    noise = np.random.default_rng(7).integers(0, 256, n, dtype=np.uint8).tobytes()
    data[a : a + n] = b"\0" * n if zeros else noise
    dst.write_bytes(bytes(data))
    return dst


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("clips")
    c = {
        "mp4": write_clip(d / "h264.mp4", "libx264"),
        "webm_vp9": write_clip(d / "vp9.webm", "libvpx-vp9"),
        "webm_vp8": write_clip(d / "vp8.webm", "libvpx"),
        "avi_mpeg4": write_clip(d / "mpeg4.avi", "mpeg4"),
        "avi_mjpeg": write_clip(d / "mjpeg.avi", "mjpeg", pix_fmt="yuvj420p"),
        "mkv": write_clip(d / "h264.mkv", "libx264"),
        "mov": write_clip(d / "h264.mov", "libx264"),
        "mp4_audio": write_clip(d / "audio.mp4", "libx264", audio="aac"),
        "mkv_audio": write_clip(d / "audio.mkv", "mpeg4", audio="aac"),
        "rotated": write_clip(d / "rotated.mp4", "libx264", rotation=90),
        "long_mp4": write_clip(d / "long.mp4", "libx264", n=96),
        "long_webm": write_clip(d / "long.webm", "libvpx-vp9", n=96),
        "long_mjpeg": write_clip(d / "long.avi", "mjpeg", pix_fmt="yuvj420p", n=96),
        "long_mkv": write_clip(d / "long.mkv", "mjpeg", pix_fmt="yuvj420p", n=96),
        "dark_start": write_clip(d / "dark.avi", "mpeg4", n=96, black_until=40),
        "tall": write_clip(d / "tall.mp4", "libx264", size=(160, 240)),
        "audio_only": write_audio_only(d / "tone.m4a"),
    }
    c["vfr"] = write_clip(d / "vfr.mp4", "libx264", n=len(VFR_MS), pts_ms=VFR_MS)
    return c


VFR_MS = [0, 30, 100, 120, 300, 310, 500, 700, 720, 900] + [1000 + 50 * k for k in range(20)]


# --- sniff_kind ---------------------------------------------------------------------------


def box(kind: bytes, brand: bytes) -> bytes:
    return struct.pack(">I", 24) + kind + brand + b"\0\0\0\0" + brand + b"isom"


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (box(b"ftyp", b"isom"), "video"),  # MP4
        (box(b"ftyp", b"qt  "), "video"),  # MOV
        (box(b"ftyp", b"heic"), "image"),  # HEIF photo: ISO-BMFF too
        (box(b"ftyp", b"avif"), "image"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm", "video"),
        (b"\x1a\x45\xdf\xa3\xa3\x42\x86\x81\x01\x42\x82\x88matroska", "video"),
        (b"RIFF\x10\x00\x00\x00AVI LIST", "video"),
        (b"RIFF\x10\x00\x00\x00WEBPVP8 ", "image"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image"),
        (b"GIF89a\x01\x00\x01\x00", "image"),
        (b"BM\x36\x00\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00", "image"),
        (b"II*\x00\x08\x00\x00\x00", "image"),
        ((b"\x47" + b"\0" * 187) * 3, "video"),  # MPEG-TS: refused later, by name
        (b"OggS\x00\x02", "video"),
        (b"ID3\x04\x00\x00", None),  # MP3
        (b"%PDF-1.7\n", None),
        (b"", None),
    ],
)
def test_sniff_kind_reads_the_content(head, kind):
    assert sniff_kind(head) == kind


def test_sniff_kind_on_written_files_ignores_the_name(clips, tmp_path):
    for path in clips.values():
        if path.suffix != ".m4a":
            assert sniff_kind(path.read_bytes()[:SNIFF_BYTES]) == "video", path.name
    renamed = tmp_path / "photo.mp4"
    renamed.write_bytes(jpeg(64, 48))
    assert sniff_kind(renamed.read_bytes()[:SNIFF_BYTES]) == "image"


# --- probe_video: accepted ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "container", "codec", "mime"),
    [
        ("mp4", "mp4", "h264", "video/mp4"),
        ("webm_vp9", "webm", "vp9", "video/webm"),
        ("webm_vp8", "webm", "vp8", "video/webm"),
        ("avi_mpeg4", "avi", "mpeg4", "video/x-msvideo"),
        ("avi_mjpeg", "avi", "mjpeg", "video/x-msvideo"),
        ("mkv", "mkv", "h264", "video/x-matroska"),
        ("mov", "mov", "h264", "video/quicktime"),
    ],
)
def test_probe_accepts_the_common_containers_and_codecs(clips, name, container, codec, mime):
    info = probe_video(clips[name], CFG)
    assert info == VideoInfo(
        container=container,
        codec=codec,
        width=W,
        height=H,
        fps=24.0,
        duration_s=2.0,
        frame_count=N,
        rotation=0,
        variable_frame_rate=False,
        has_audio=False,
        mime=mime,
    )


def test_probe_reports_audio(clips):
    assert probe_video(clips["mp4_audio"], CFG).has_audio
    assert probe_video(clips["mkv_audio"], CFG).has_audio


def test_probe_reports_the_rotation_and_the_displayed_size(clips):
    info = probe_video(clips["rotated"], CFG)
    # display matrix: 90° counter-clockwise, i.e. 270° clockwise; shown portrait
    assert (info.rotation, info.width, info.height) == (270, H, W)


def test_probe_detects_a_variable_frame_rate(clips):
    info = probe_video(clips["vfr"], CFG)
    assert info.variable_frame_rate
    assert info.frame_count == len(VFR_MS)
    assert info.duration_s == pytest.approx(1.95 + 0.05, abs=0.06)
    assert info.fps == pytest.approx((len(VFR_MS) - 1) / 1.95, rel=0.01)  # measured


# --- probe_video: refused -----------------------------------------------------------------


def refusal(path: Path, cfg: Settings = CFG) -> InvalidMedia:
    with pytest.raises(InvalidMedia) as caught:
        probe_video(path, cfg)
    return caught.value


def test_a_zero_byte_file_is_refused(tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    err = refusal(empty)
    assert (err.code, err.status) == ("empty_file", 400)


def test_a_file_over_the_byte_limit_is_refused_naming_both_sizes(clips):
    size = clips["mp4"].stat().st_size
    err = refusal(clips["mp4"], replace(CFG, max_video_bytes=size - 1))
    assert (err.code, err.status) == ("too_large", 413)
    assert f"{size:,} bytes" in err.detail and f"{size - 1:,} bytes" in err.detail


def test_a_jpeg_named_mp4_is_not_a_video(tmp_path):
    fake = tmp_path / "clip.mp4"
    fake.write_bytes(jpeg(64, 48))
    err = refusal(fake)
    assert (err.code, err.status) == ("not_a_video", 415)
    assert "image" in err.detail


def test_random_bytes_are_not_a_video(tmp_path):
    junk = tmp_path / "clip.webm"
    junk.write_bytes(np.random.default_rng(1).integers(0, 256, 4096, np.uint8).tobytes())
    assert refusal(junk).code == "not_a_video"


def test_a_container_we_do_not_accept_is_named(tmp_path):
    ts = write_clip(tmp_path / "clip.ts", "mpeg2video", fmt="mpegts", n=12)
    err = refusal(ts)
    assert (err.code, err.status) == ("unsupported_type", 415)
    assert "MPEGTS" in err.detail and "MP4" in err.detail


def test_an_audio_only_file_has_no_video_stream(clips):
    err = refusal(clips["audio_only"])
    assert (err.code, err.status) == ("no_video_stream", 415)
    assert "audio only" in err.detail


def test_a_codec_without_a_decoder_is_refused(clips, tmp_path):
    unknown = patch_avi(clips["avi_mjpeg"], tmp_path / "zzzz.avi", fourcc=b"ZZZZ")
    err = refusal(unknown)
    assert (err.code, err.status) == ("unsupported_codec", 415)
    assert err.detail.startswith("The video codec 'ZZZZ' has no decoder here")


def test_an_mp4_cut_before_its_moov_is_truncated(clips, tmp_path):
    data = clips["long_mp4"].read_bytes()  # written without +faststart: moov at the end
    assert data.find(b"moov") > data.find(b"mdat")
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) * 2 // 3])
    err = refusal(cut)
    assert (err.code, err.status) == ("truncated", 400)
    assert "moov" in err.detail


def test_a_webm_whose_data_ends_early_is_truncated(clips, tmp_path):
    data = clips["long_webm"].read_bytes()
    cut = tmp_path / "cut.webm"
    cut.write_bytes(data[: len(data) // 2])
    err = refusal(cut)
    assert (err.code, err.status) == ("truncated", 400)
    assert re.search(r"declares 4\.0 s but its frames end at 1\.\d s", err.detail)


def test_a_duration_over_the_limit_is_refused(clips):
    err = refusal(clips["mp4"], replace(CFG, max_video_duration_s=1.0))
    assert (err.code, err.status) == ("too_long", 413)
    assert err.detail == "The video lasts 2.0 s; the limit is 1.0 s."


def test_a_frame_rate_over_the_limit_is_refused(clips):
    err = refusal(clips["webm_vp9"], replace(CFG, max_video_fps=20))
    assert (err.code, err.status) == ("frame_rate_too_high", 413)
    assert err.detail == "The video has 24 frames per second; the limit is 20."


def test_a_size_over_the_limit_is_refused(clips):
    err = refusal(clips["mkv"], replace(CFG, max_video_side=128))
    assert (err.code, err.status) == ("dimensions_too_large", 413)
    assert "160×120" in err.detail and "128" in err.detail
    assert refusal(clips["mkv"], replace(CFG, max_video_pixels=W * H - 1)).code == (
        "dimensions_too_large"
    )


@pytest.fixture
def no_decoding(monkeypatch):
    """Fails the test if probe_video gets as far as decoding a frame."""

    def refuse(*_a, **_k):
        raise AssertionError("a frame was decoded")

    monkeypatch.setattr(video, "_check_first_frame", refuse)


def test_a_header_declaring_100000_fps_is_refused_before_decoding(clips, tmp_path, no_decoding):
    absurd = patch_avi(clips["avi_mjpeg"], tmp_path / "fast.avi", rate=100_000)
    err = refusal(absurd)
    assert (err.code, err.status) == ("frame_rate_too_high", 413)
    assert err.detail == "The video has 100,000 frames per second; the limit is 120."


def test_an_8k_video_is_refused_from_its_header_before_decoding(tmp_path, no_decoding):
    big = write_mjpeg_packets(tmp_path / "8k.avi", 7680, 4320)
    err = refusal(big)
    assert (err.code, err.status) == ("dimensions_too_large", 413)
    assert "7680×4320" in err.detail and "3840" in err.detail


def test_the_video_limits_are_settings():
    cfg = load_settings(
        {
            "GLASSBOX_MAX_VIDEO_BYTES": "1000",
            "GLASSBOX_MAX_VIDEO_DURATION_S": "30",
            "GLASSBOX_MAX_VIDEO_SIDE": "1920",
            "GLASSBOX_MAX_VIDEO_PIXELS": "2073600",
            "GLASSBOX_MAX_VIDEO_FPS": "60",
        }
    )
    assert (cfg.max_video_bytes, cfg.max_video_duration_s, cfg.max_video_side) == (1000, 30, 1920)
    assert (cfg.max_video_pixels, cfg.max_video_fps) == (2_073_600, 60)
    assert (CFG.max_video_bytes, CFG.max_video_duration_s) == (500 * 1024 * 1024, 600)
    assert (CFG.max_video_side, CFG.max_video_pixels, CFG.max_video_fps) == (3840, 3840 * 2160, 120)


# --- decoding -------------------------------------------------------------------------------


def test_iter_frames_gives_every_frame_with_pts_times(clips):
    frames = list(iter_frames(clips["mp4"]))
    assert [i for i, _t, _f in frames] == list(range(N))
    assert [t for _i, t, _f in frames] == pytest.approx([i / FPS for i in range(N)], abs=1e-6)
    assert all(f.shape == (H, W, 3) and f.dtype == np.uint8 for _i, _t, f in frames)
    assert frames[0][2][4, 4].tolist() == pytest.approx([255, 0, 0], abs=40)  # the marker


def test_frame_times_of_a_variable_rate_video_are_its_timestamps(clips):
    times = [t for _i, t, _f in iter_frames(clips["vfr"])]
    assert times == pytest.approx([ms / 1000 for ms in VFR_MS], abs=1e-3)  # not index / fps


def test_iter_frames_samples_by_count_by_time_and_resizes(clips):
    assert [i for i, _t, _f in iter_frames(clips["mp4"], every_n=10)] == [0, 10, 20, 30, 40]
    sampled = [t for _i, t, _f in iter_frames(clips["vfr"], fps=5)]
    slots = [int(t / 0.2 + 1e-6) for t in sampled]
    assert slots == sorted(set(slots))  # the first frame of each 0.2 s slot, no more
    assert sampled[:6] == pytest.approx([0.0, 0.3, 0.5, 0.7, 0.9, 1.0])
    (_i, _t, small), *_ = iter_frames(clips["mp4"], size=(32, 24))
    assert small.shape == (24, 32, 3)


def test_iter_frames_turns_frames_upright(clips):
    _i, _t, frame = next(iter_frames(clips["rotated"]))
    assert frame.shape == (W, H, 3)  # portrait
    # the stored top-left marker, turned 90° counter-clockwise, is at the bottom left
    assert frame[-5, 4].tolist() == pytest.approx([255, 0, 0], abs=40)
    assert frame[4, 4].tolist() != pytest.approx([255, 0, 0], abs=40)


@pytest.mark.parametrize(
    ("name", "zeros"),
    [("long_mp4", True), ("long_mp4", False), ("long_mkv", True), ("long_mkv", False)],
)
def test_a_file_corrupted_halfway_raises_with_how_far_it_got(clips, tmp_path, name, zeros):
    src = clips[name]
    broken = corrupt_middle(src, tmp_path / f"broken{src.suffix}", zeros=zeros)
    probe_video(broken, CFG)  # the header and the first frame are fine
    seen = []
    with pytest.raises(VideoDecodeError) as caught:
        for index, time_s, _frame in iter_frames(broken):
            seen.append((index, time_s))
    err = caught.value
    assert 10 < err.frames_decoded < 96 and err.frames_decoded == len(seen)
    assert err.time_s == pytest.approx(seen[-1][1])
    assert f"after {err.frames_decoded} frames" in str(err)
    assert "InvalidDataError" in err.reason


def test_an_avi_whose_demuxer_skips_damaged_chunks_is_refused(clips, tmp_path):
    # FFmpeg's AVI demuxer skips the zeroed chunks and numbers the rest on, without error:
    # the frames then end 10 frames short of the count the header declares.
    broken = corrupt_middle(clips["long_mjpeg"], tmp_path / "broken.avi", zeros=True)
    err = refusal(broken)
    assert (err.code, err.status) == ("truncated", 400)
    assert "declares 4.0 s but its frames end at 3.6 s" in err.detail
    with pytest.raises(VideoDecodeError, match="of the 4.00 s the video declares") as caught:
        list(iter_frames(broken))
    assert 60 < caught.value.frames_decoded < 96


def test_decoding_data_that_ends_early_raises(clips, tmp_path):
    data = clips["long_webm"].read_bytes()
    cut = tmp_path / "cut.webm"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(VideoDecodeError, match="of the 4.00 s the video declares") as caught:
        list(iter_frames(cut))
    assert caught.value.frames_decoded > 10


def test_small_frames_for_shots_are_48x27_at_the_same_times(clips):
    times, frames = small_frames_for_shots(clips["avi_mpeg4"])
    assert frames.shape == (N, 27, 48, 3) and frames.dtype == np.uint8
    assert times.dtype == np.float64
    assert times == pytest.approx([t for _i, t, _f in iter_frames(clips["avi_mpeg4"])])
    assert frames[0, 1, 1].tolist() == pytest.approx([255, 0, 0], abs=60)


def test_frames_at_finds_the_frame_shown_at_a_time(clips):
    every = {round(t, 6): f for _i, t, f in iter_frames(clips["long_mp4"])}
    wanted = [3.5, 0.0, 1.0 + 0.01, 2.25, 99.0]  # unsorted, between frames, past the end
    got = frames_at(clips["long_mp4"], wanted)
    expected = [3.5, 0.0, 1.0, 2.25, 95 / FPS]
    assert [t for t, _f in got] == pytest.approx(expected)
    for (t, frame), want in zip(got, expected, strict=True):
        assert np.array_equal(frame, every[round(want, 6)]), t


def test_frames_at_by_index_and_within_a_side(clips):
    got = frames_at(clips["mp4"], [47, 0, 10], by="index", max_side=80)
    assert [t for t, _f in got] == pytest.approx([47 / FPS, 0.0, 10 / FPS])
    assert all(f.shape == (60, 80, 3) for _t, f in got)
    with pytest.raises(IndexError):
        frames_at(clips["mp4"], [N], by="index")


def test_the_clock_orders_timestamps_of_packed_b_frames():
    stream = SimpleNamespace(time_base=Fraction(1, 10), start_time=0, average_rate=Fraction(10))
    clock = PresentationClock(stream, depth=2)
    out = []
    for pts in [0, 1, 3, 2, 4, 6, 5, 7, None]:
        out += clock.push(SimpleNamespace(pts=pts, dts=None))
    out += clock.flush()
    assert [round(t, 6) for t, _f in out] == [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]


# --- proxy and poster -----------------------------------------------------------------------


def reopened(path: Path) -> tuple[str, int, int, float, list[str]]:
    with av.open(str(path)) as box:
        v = box.streams.video[0]
        audio = [a.codec_context.name for a in box.streams.audio]
        return v.codec_context.name, v.width, v.height, box.duration / 1e6, audio


def test_a_browser_playable_original_needs_no_proxy(clips, tmp_path):
    for name in ("mp4", "mp4_audio", "webm_vp9", "webm_vp8"):
        assert make_proxy(clips[name], tmp_path / name) is None, name
    assert not list(tmp_path.iterdir())


def test_the_proxy_is_h264_mp4_that_lasts_as_long(clips, tmp_path):
    info = make_proxy(clips["avi_mpeg4"], tmp_path)
    assert info == ProxyInfo(tmp_path / "proxy.mp4", "video/mp4", W, H)
    codec, w, h, duration, audio = reopened(info.path)
    assert (codec, w, h, audio) == ("h264", W, H, [])
    assert duration == pytest.approx(2.0, abs=0.2)
    data = info.path.read_bytes()
    assert data.find(b"moov") < data.find(b"mdat")  # +faststart
    assert [p.name for p in tmp_path.iterdir()] == ["proxy.mp4"]


def test_the_proxy_keeps_audio_timing_and_rotation(clips, tmp_path):
    info = make_proxy(clips["mkv_audio"], tmp_path / "a")
    assert reopened(info.path)[4] == ["aac"]
    vfr = make_proxy(clips["vfr"], tmp_path / "v", max_height=100)  # too tall: re-encoded
    times = []
    with av.open(str(vfr.path)) as box:
        times = sorted(float(f.time) for f in box.decode(video=0))
    assert times == pytest.approx([ms / 1000 for ms in VFR_MS], abs=2e-3)
    turned = make_proxy(clips["rotated"], tmp_path / "r", max_height=100)
    assert (turned.width, turned.height) == (76, 100)  # upright 120x160, scaled, even


def test_a_tall_original_is_scaled_to_even_sides(clips, tmp_path):
    info = make_proxy(clips["tall"], tmp_path, max_height=101)
    assert (info.width, info.height) == (68, 100)
    assert reopened(info.path)[1:3] == (68, 100)


def test_the_proxy_falls_back_to_vp9_webm_without_h264(clips, tmp_path, monkeypatch):
    monkeypatch.setattr(
        video_proxy, "_ENCODERS", tuple(e for e in video_proxy._ENCODERS if e.suffix == ".webm")
    )
    info = make_proxy(clips["mkv_audio"], tmp_path)
    assert (info.path.name, info.mime) == ("proxy.webm", "video/webm")
    codec, _w, _h, duration, audio = reopened(info.path)
    assert (codec, audio) == ("vp9", ["opus"])
    assert duration == pytest.approx(2.0, abs=0.2)


def assert_poster(data: bytes, side: int = 512) -> np.ndarray:
    img = Image.open(io.BytesIO(data))
    assert img.format == "JPEG" and max(img.size) <= side
    pixels = np.asarray(img.convert("L"))
    assert np.percentile(pixels, 95) > 40, "the poster is black"
    return pixels


def test_the_poster_skips_black_frames(clips):
    assert_poster(poster_jpeg(clips["dark_start"]))  # black for the first 40 of 96 frames
    small = Image.open(io.BytesIO(poster_jpeg(clips["rotated"], side=64)))
    assert small.size == (48, 64)  # upright


# --- the Debian sample ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def megamind() -> Path:
    if not MEGAMIND.exists():
        pytest.fail(
            f"{MEGAMIND} is missing: install the Debian package opencv-doc "
            "(infra/bin/setup --test does)"
        )
    return MEGAMIND


def test_megamind_probe(megamind):
    info = probe_video(megamind, CFG)
    assert (info.container, info.codec, info.width, info.height) == ("avi", "mpeg4", 720, 528)
    assert info.fps == pytest.approx(24, abs=0.05)
    assert info.duration_s == pytest.approx(11.3, abs=0.05)
    assert info.frame_count == 270 and not info.variable_frame_rate


def test_megamind_small_frames_are_fast_and_in_order(megamind):
    start = time.perf_counter()
    times, frames = small_frames_for_shots(megamind)
    rate = len(times) / (time.perf_counter() - start)
    print(f"small_frames_for_shots on Megamind.avi: {rate:.0f} frames/s")
    assert frames.shape == (270, 27, 48, 3)
    assert np.all(np.diff(times) > 0)  # packed B-frames: PTS reordered, strictly increasing
    assert np.diff(times) == pytest.approx(125 / 2997, abs=1e-6)
    assert rate > 200


def test_megamind_proxy_plays_and_poster_is_not_black(megamind, tmp_path):
    start = time.perf_counter()
    info = make_proxy(megamind, tmp_path)
    elapsed = time.perf_counter() - start
    print(f"proxy of Megamind.avi: {11.3 / elapsed:.1f}x real time")
    codec, w, h, duration, audio = reopened(info.path)
    assert codec in ("h264", "vp9") and h <= 720 and (w, h) == (720, 528)
    assert duration == pytest.approx(probe_video(megamind, CFG).duration_s, abs=0.2)
    assert audio in (["aac"], ["opus"])
    assert_poster(poster_jpeg(megamind))
