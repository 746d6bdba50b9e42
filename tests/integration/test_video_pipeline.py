"""Videos end to end on real services (PostgreSQL, Redis, a Celery worker, Triton with the
shot detector, the Milvus Lite server): shots and keyframes, time-ranged tags, the proxy,
the index's shot rows, and a text query that lands on the moment.

The samples are Debian's ``opencv-doc`` videos (installed by infra/bin/setup) and a clip the
test renders from the sample photos, with hard cuts at known times.
"""

from __future__ import annotations

import time
from pathlib import Path

import av
import numpy as np
import pytest
from glassbox.clients.milvus.client import MediaIndex
from glassbox.config import get_settings
from media.models import MediaItem
from PIL import Image
from rest_framework.test import APIClient

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

OPENCV_DATA = Path("/usr/share/doc/opencv-doc/examples/data")
MEGAMIND_CUTS_S = (4.13, 6.46, 8.38)  # ffmpeg scdet, matching the encoder's I-frames
TWO_FRAMES_S = 2 / 24
RENDERED_FPS = 12
RENDERED_SHOTS = ("giraffe.jpg", "dog.jpg", "eagle.jpg")  # 3 s each: cuts at 3 s and 6 s


def opencv_sample(name: str) -> Path:
    path = OPENCV_DATA / name
    if not path.exists():
        pytest.fail(f"{path} is missing: run `infra/bin/setup --test` (Debian opencv-doc)")
    return path


def wait_settled(client: APIClient, item_id: int, deadline_s: float = 600) -> dict:
    deadline = time.monotonic() + deadline_s
    while True:
        body = client.get(f"/api/v1/media/{item_id}/").json()
        if body["status"] in ("ready", "failed"):
            return body
        if time.monotonic() > deadline:
            pytest.fail(f"video still {body['status']} after {deadline_s} s: {body}")
        time.sleep(1)


@pytest.fixture
def member(django_user_model):
    user = django_user_model.objects.create_user("viewer", password="viewer-password-1")
    client = APIClient()
    client.force_authenticate(user)
    return user, client


def upload(client: APIClient, path: Path, title: str) -> int:
    with open(path, "rb") as fh:
        resp = client.post("/api/v1/media/", {"file": fh, "title": title}, format="multipart")
    assert resp.status_code == 201, resp.content
    assert resp.json()["status"] == "queued"
    return resp.json()["id"]


def render_clip(samples: Path, out: Path) -> Path:
    """3 s of each photo, hard cuts between them, 12 fps H.264 (or MPEG-4) in MP4."""
    codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
    with av.open(str(out), "w") as container:
        stream = container.add_stream(codec, rate=RENDERED_FPS)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        for name in RENDERED_SHOTS:
            image = Image.open(samples / name).convert("RGB").resize((320, 240))
            frame = av.VideoFrame.from_ndarray(np.asarray(image), format="rgb24")
            for _ in range(3 * RENDERED_FPS):
                for packet in stream.encode(frame):
                    container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return out


def index_rows_of(item_id: int) -> list[dict]:
    cfg = get_settings()
    index = MediaIndex(cfg.milvus_uri, cfg.milvus_collection, timeout=10.0)
    try:
        index.flush()
        return index._call(
            lambda c: c.query(
                cfg.milvus_collection,
                filter=f"item_id == {int(item_id)}",
                output_fields=["id", "shot", "start_s", "end_s", "kind"],
            )
        )
    finally:
        index.close()


def test_megamind_is_cut_where_its_shots_change_and_explained_in_time(member, celery_worker):
    user, client = member
    item_id = upload(client, opencv_sample("Megamind.avi"), "Megamind")
    body = wait_settled(client, item_id)
    assert body["status"] == "ready", body.get("failure_reason")
    item = MediaItem.objects.get(pk=item_id)
    assert item.kind == "video" and abs(item.duration_s - 11.3) < 0.3 and abs(item.fps - 24) < 0.1
    cuts = [s.start_s for s in item.shots.order_by("index") if s.cut_probability is not None]
    assert len(cuts) == len(MEGAMIND_CUTS_S), cuts
    for found, true in zip(cuts, MEGAMIND_CUTS_S, strict=True):
        assert abs(found - true) <= TWO_FRAMES_S + 1e-6, (cuts, MEGAMIND_CUTS_S)
    windows = list(item.shots.order_by("index"))
    assert all(w.analyzed_at and w.keyframe and not w.keyframe_blank for w in windows)
    assert all(w.start_s <= w.keyframe_s < w.end_s for w in windows)
    tags = list(item.tags.order_by("rank"))
    assert tags and all(t.instances for t in tags)
    top = tags[0]
    assert "of the video" in top.justification
    assert all(0 <= i["start"] < i["end"] <= item.duration_s + 0.1 for i in top.instances)
    assert item.caption.startswith("0:00")  # the shots' captions with their times
    assert item.proxy_mime in ("video/mp4", "video/webm") and item.proxy  # XviD AVI: a proxy
    with av.open(item.proxy.path) as proxy:
        stream = proxy.streams.video[0]
        assert stream.codec_context.name in ("h264", "vp9", "vp8") and stream.height <= 720
    rows = index_rows_of(item_id)
    assert sorted(r["shot"] for r in rows) == [-1, *range(len(windows))]  # item row + windows
    assert {r["kind"] for r in rows} == {"video"}


def test_vtest_has_no_cut_and_its_long_shot_gets_a_keyframe_every_interval(member, celery_worker):
    user, client = member
    item_id = upload(client, opencv_sample("vtest.avi"), "vtest")
    body = wait_settled(client, item_id)
    assert body["status"] == "ready", body.get("failure_reason")
    item = MediaItem.objects.get(pk=item_id)
    windows = list(item.shots.order_by("index"))
    assert {w.shot_number for w in windows} == {0}  # one shot: a static camera
    assert all(w.cut_probability is None for w in windows)
    interval = get_settings().video_keyframe_interval_s
    assert len(windows) == max(1, round(item.duration_s / interval))
    assert windows[0].start_s == 0 and abs(windows[-1].end_s - item.duration_s) < 0.2


def test_a_query_for_what_one_shot_shows_lands_on_that_shot(
    member, celery_worker, samples, tmp_path
):
    user, client = member
    clip = render_clip(samples, tmp_path / "edited.mp4")
    item_id = upload(client, clip, "edited")
    body = wait_settled(client, item_id)
    assert body["status"] == "ready", body.get("failure_reason")
    item = MediaItem.objects.get(pk=item_id)
    cuts = [s.start_s for s in item.shots.order_by("index") if s.cut_probability is not None]
    assert [round(c) for c in cuts] == [3, 6], cuts
    resp = client.get("/api/v1/search/", {"q": "dog", "weaker": "true"})
    assert resp.status_code == 200, resp.content
    (video,) = [r for r in resp.json()["results"] if r["item"]["id"] == item_id]
    best = video["moments"][0]
    assert abs(best["start_s"] - 3.0) <= 1 / RENDERED_FPS + 1e-6, video["moments"]
    assert best["url"].endswith(f"#t={round(best['start_s'], 3):g}")
    assert best["justification"]
