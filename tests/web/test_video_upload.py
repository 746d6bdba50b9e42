"""Video uploads through the API and the page (no worker: the analysis job is only queued).

A video is told from an image by its content; it is probed before anything is stored, and
every refusal is a 4xx problem that names the limit or the fault, with nothing stored. Files
are written in the test with PyAV."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import av
import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from glassbox.config import get_settings
from jobs.models import OutboxMessage
from media.actions import commands
from media.models import MediaItem
from PIL import Image

PROBLEM = "application/problem+json"


def clip(path: Path, seconds: float = 2.0, fps: int = 10, size=(160, 120)) -> Path:
    w, h = size
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        for i in range(int(seconds * fps)):
            img = np.full((h, w, 3), 60, np.uint8)
            img[:, : (i * 7) % w + 1] = (200, 120, 40)
            out.mux(stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
        out.mux(stream.encode())
    return path


def audio_only(path: Path) -> Path:
    with av.open(str(path), "w", format="mp4") as out:
        sound = out.add_stream("aac", rate=48000, layout="mono")
        size = sound.codec_context.frame_size or 1024
        for k in range(40):
            samples = np.zeros((1, size), np.float32)
            frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 48000, k * size
            out.mux(sound.encode(frame))
        out.mux(sound.encode())
    return path


def post(api, name: str, data: bytes):
    upload = SimpleUploadedFile(name, data, content_type="application/octet-stream")
    return api.post(reverse("api:media-list"), {"file": upload}, format="multipart")


def nothing_stored(media_root) -> bool:
    root = Path(media_root)
    files = [p for p in root.rglob("*") if p.is_file()] if root.exists() else []
    return not MediaItem.objects.exists() and not files and not OutboxMessage.objects.exists()


def test_a_video_upload_is_probed_stored_with_a_poster_and_queued(api, tmp_path, media_root):
    data = clip(tmp_path / "c.mp4").read_bytes()
    response = post(api, "holiday.bin", data)  # the name says nothing: the content does
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["kind"] == "video" and body["status"] == "queued"
    item = MediaItem.objects.get(pk=body["id"])
    assert (item.width, item.height) == (160, 120) and item.mime == "video/mp4"
    assert abs(item.duration_s - 2.0) < 0.2 and item.fps == 10 and item.frame_count == 20
    assert item.size_bytes == len(data) and item.thumbnail.name.endswith(".jpg")
    with item.thumbnail.open("rb") as fh:
        assert Image.open(fh).format == "JPEG"
    assert list(OutboxMessage.objects.values_list("task", "item_id")) == [
        ("media.analyze", item.pk)
    ]


def test_a_jpeg_named_mp4_is_the_image_it_is(api):
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 200, 30)).save(out, format="JPEG")
    response = post(api, "clip.mp4", out.getvalue())
    assert response.status_code == 201 and response.json()["kind"] == "image"


@pytest.mark.parametrize(
    ("make", "status", "words"),
    [
        (lambda p: p.write_bytes(b"") or p, 400, "empty"),
        (audio_only, 415, "no video stream"),
        (lambda p: Path(p).write_bytes(clip(p).read_bytes()[:1500]) and p, 400, "incomplete"),
    ],
    ids=["zero-byte", "audio-only", "truncated-mp4"],
)
def test_a_bad_video_is_a_clear_problem_and_nothing_is_stored(
    api, tmp_path, media_root, make, status, words
):
    path = make(tmp_path / "bad.mp4")
    response = post(api, "bad.mp4", Path(path).read_bytes())
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM
    assert words in response.json()["detail"].lower(), response.json()
    assert nothing_stored(media_root)


def test_a_video_over_the_duration_limit_names_the_limit(api, tmp_path, media_root, monkeypatch):
    short = dataclasses.replace(get_settings(), max_video_duration_s=1.0)
    monkeypatch.setattr(commands, "get_settings", lambda: short)
    response = post(api, "long.mp4", clip(tmp_path / "l.mp4", seconds=3).read_bytes())
    assert response.status_code in (400, 413) and response["Content-Type"] == PROBLEM
    assert "limit" in response.json()["detail"].lower()
    assert nothing_stored(media_root)


def test_a_video_over_the_size_limit_names_both_sizes(api, tmp_path, media_root, monkeypatch):
    tiny = dataclasses.replace(get_settings(), max_video_bytes=1000)
    monkeypatch.setattr(commands, "get_settings", lambda: tiny)
    response = post(api, "big.mp4", clip(tmp_path / "b.mp4").read_bytes())
    assert response.status_code == 413, response.content
    assert "the limit is" in response.json()["detail"]
    assert nothing_stored(media_root)


def test_the_upload_page_accepts_videos(alice_web):
    page = alice_web.get(reverse("media:upload"))
    assert b"video/*" in page.content
