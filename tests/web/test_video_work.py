"""A video's analysis stages (media.video_work) and the video task, with the shot detector
and the image pipeline faked and a real clip decoded: windows and keyframes stored, windows
analysed once each (a redelivered task resumes), tags aggregated in time, the proxy made,
the index given one row per window, and a broken file failed with a reason."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from glassbox.clients.milvus.schema import item_of
from glassbox_web import runtime
from media import tasks, video_work
from media.actions import commands
from media.models import MediaItem, Shot

from .conftest import FAKE_MODEL_VERSIONS, fake_analysis

FPS = 10
SCENES = ((200, 40, 40), (40, 200, 40), (40, 40, 200))  # 2 s each: cuts at 2 s and 4 s


def scenes_clip(path: Path) -> Path:
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("mpeg4", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        for colour in SCENES:
            for i in range(2 * FPS):
                img = np.zeros((120, 160, 3), np.uint8)
                img[:] = colour
                img[20:60, (i * 5) % 120 : (i * 5) % 120 + 30] = 255  # texture: not blank
                out.mux(stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
        out.mux(stream.encode())
    return path


class FakeShotClient:
    """The shot detector: a peak on the last frame of each outgoing scene."""

    def __init__(self) -> None:
        self.calls = 0

    def model_versions(self) -> dict[str, str]:  # Triton's READY models, as the fakes say
        return dict(FAKE_MODEL_VERSIONS)

    def cut_probabilities(self, small: np.ndarray) -> np.ndarray:
        self.calls += 1
        p = np.full(len(small), 0.01, np.float32)
        for end in (2 * FPS - 1, 4 * FPS - 1):
            if end < len(p):
                p[end] = 0.97
        return p


@pytest.fixture
def video(alice, tmp_path, django_capture_on_commit_callbacks):
    data = scenes_clip(tmp_path / "scenes.mp4").read_bytes()
    with django_capture_on_commit_callbacks(execute=False):
        return commands.create_media(alice, SimpleUploadedFile("scenes.mp4", data))


@pytest.fixture
def analysed(monkeypatch, bank_embeddings):
    """The image pipeline, faked per keyframe: scene colour -> concepts."""
    seen = []

    def analyze(data, client, bank, settings, policies=None):  # from the keyframe threads
        seen.append(len(data))
        import io

        from PIL import Image as PILImage

        r, g, b = PILImage.open(io.BytesIO(data)).convert("RGB").resize((1, 1)).getpixel((0, 0))
        green = g > max(r, b)  # the middle scene
        return fake_analysis(bank_embeddings, concept_ids=(3, 7) if green else (3, 5))

    monkeypatch.setattr(video_work.pipeline, "analyze", analyze)
    return seen


def run(item: MediaItem, client) -> list[tuple]:
    from glassbox.config import get_settings

    progress: list[tuple] = []
    video_work.analyze_video(item, client, None, get_settings(), lambda *a: progress.append(a))
    return progress


def test_a_video_is_cut_into_shots_with_keyframes_and_tags_in_time(video, analysed):
    client = FakeShotClient()
    progress = run(video, client)
    windows = list(video.shots.order_by("index"))
    assert [w.shot_number for w in windows] == [0, 1, 2]
    assert [round(w.start_s, 2) for w in windows] == [0.0, 2.0, 4.0]
    assert [w.cut_probability for w in windows] == [None, pytest.approx(0.97), pytest.approx(0.97)]
    assert windows[1].cut_curve["probabilities"] and windows[0].cut_curve == {}
    assert all(w.keyframe and w.start_s <= w.keyframe_s < w.end_s for w in windows)
    assert all(w.analyzed_at and w.tags for w in windows) and len(analysed) == 3
    assert ("keyframes", 3, 3) in progress and progress[0] == ("shots", 0, 1)
    video.refresh_from_db()
    tags = {t.name: t for t in video.tags.all()}
    everywhere = tags["concept <3>"]  # seen on every keyframe
    assert [(i["start"], i["end"]) for i in everywhere.instances] == [
        (0.0, pytest.approx(6.0, abs=0.11))
    ]
    assert "of the video" in everywhere.justification
    assert len(tags["concept <5>"].instances) == 2  # windows 0 and 2, not 1
    assert video.caption == "" or video.caption.startswith("0:00")
    assert video.profile.vector_array().size and video.proxy  # mpeg4 in MP4: not playable


def test_a_redelivered_task_resumes_from_the_first_window_not_analysed(video, analysed):
    client = FakeShotClient()
    run(video, client)
    Shot.objects.filter(item=video, index=2).update(analyzed_at=None)
    ids = list(video.shots.values_list("pk", flat=True))
    before = len(analysed)
    run(video, client)
    assert len(analysed) == before + 1  # only the window that had not finished
    assert client.calls == 1  # the shots were not detected again
    assert list(video.shots.values_list("pk", flat=True)) == ids  # no duplicate rows


def test_the_index_gets_the_video_row_and_one_row_per_window(video, analysed, fake_services):
    run(video, FakeShotClient())
    from media.actions import lifecycle

    lifecycle.record_video_analysis(video.pk)
    written = []
    fake_services.index.upsert = lambda rows: written.extend(rows)
    fake_services.index.delete_shots_from = lambda item_id, first: None
    tasks.index_media.apply(args=[video.pk])
    assert [item_of(r.id) for r in written] == [(video.pk, -1), *((video.pk, n) for n in range(3))]
    assert {r.kind for r in written} == {"video"} and written[2].start_s == pytest.approx(2.0)
    assert MediaItem.objects.get(pk=video.pk).status == "ready"


def test_a_video_whose_decoding_breaks_fails_with_a_reason(video, monkeypatch, fake_services):
    from glassbox.media.video import VideoDecodeError

    def broken(path):
        raise VideoDecodeError("invalid data found", 12, 1.2)

    monkeypatch.setattr(video_work.video_frames, "small_frames_for_shots", broken)
    tasks.analyze_media.apply(args=[video.pk])
    video.refresh_from_db()
    assert video.status == "failed" and "after 12 frames" in video.failure_reason
    assert not video.shots.exists()


def test_the_video_task_records_progress_and_queues_indexing(
    video, analysed, monkeypatch, fake_services, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(runtime, "inference_client", FakeShotClient)
    with django_capture_on_commit_callbacks(execute=False):
        tasks.analyze_media.apply(args=[video.pk])
    video.refresh_from_db()
    assert video.status == "processing" and video.progress == {}
    assert video.lease_owner.startswith("index:")
    from jobs.models import OutboxMessage

    assert ("media.index", video.pk) in set(OutboxMessage.objects.values_list("task", "item_id"))


def test_a_cut_shows_the_frames_it_separates_over_the_curve(alice_web, video, analysed, bob):
    from io import BytesIO

    from django.test import Client
    from django.urls import reverse
    from PIL import Image as PILImage

    run(video, FakeShotClient())
    cut_row = video.shots.get(index=1)
    response = alice_web.get(reverse("media:cut", args=[video.pk, cut_row.index]))
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    picture = PILImage.open(BytesIO(response.content)).convert("RGB")
    left, right = picture.getpixel((10, 10)), picture.getpixel((picture.width - 10, 10))
    assert left[0] > 150 and right[1] > 150  # red scene before the cut, green after
    assert alice_web.get(reverse("media:cut", args=[video.pk, 0])).status_code == 404
    other = Client()
    other.force_login(bob)
    assert other.get(reverse("media:cut", args=[video.pk, 1])).status_code == 404
    page = alice_web.get(reverse("media:detail", args=[video.pk])).content.decode()
    assert f'data-preview="/media/{video.pk}/shots/1/cut.png"' in page
