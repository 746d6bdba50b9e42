"""In headless Chromium: a video's page plays its proxy (served with range requests) and its
timeline seeks the player: a click on a tag's range moves ``currentTime`` to the range's
start, hovering a range shows its keyframe with the tag's heat map, and ``#t=2`` seeks there
on load and highlights the ranges that contain it.

The video is seeded in the database (a real 3-second VP9 clip made with PyAV, its windows
and tags as the analysis would store them); no worker, Triton or Milvus is needed.
"""

from __future__ import annotations

import io
import os

import av
import numpy as np
import pytest
from django.core.files.base import ContentFile
from media.models import MediaItem, Shot, Tag
from PIL import Image

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SECONDS, FPS, WIDTH, HEIGHT = 3, 25, 160, 96
CAM = [[float(r == 3 and c == 3) for c in range(7)] for r in range(7)]


def webm_clip(seconds: int = SECONDS) -> bytes:
    """A VP9 WebM whose colour changes each second, a keyframe every 5 frames."""
    out = io.BytesIO()
    with av.open(out, "w", format="webm") as container:
        stream = container.add_stream("libvpx-vp9", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.options = {"deadline": "realtime", "cpu-used": "8", "g": "5", "crf": "40", "b": "0"}
        for i in range(seconds * FPS):
            rgb = np.zeros((HEIGHT, WIDTH, 3), dtype=np.uint8)
            rgb[..., i // FPS % 3] = 200
            rgb[:, (i * 4) % WIDTH, :] = 255  # a moving line
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return out.getvalue()


def jpeg(color) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (WIDTH, HEIGHT), color).save(out, format="JPEG")
    return out.getvalue()


@pytest.fixture
def clip(settings, tmp_path, django_user_model):
    """carol's video: windows 0-1, 1-2, 2-3 s (a cut at 1 s and at 2 s); "dog" at 0-1 and
    2-3 s, "cat" at 1-2 s."""
    settings.MEDIA_ROOT = tmp_path / "media"
    owner = django_user_model.objects.create_user("carol", password="carol-password-1")
    data = webm_clip()
    item = MediaItem(
        owner=owner,
        title="three colours",
        kind=MediaItem.Kind.VIDEO,
        mime="video/webm",
        width=WIDTH,
        height=HEIGHT,
        size_bytes=len(data),
        duration_s=float(SECONDS),
        fps=float(FPS),
        frame_count=SECONDS * FPS,
        status=MediaItem.Status.READY,
        proxy_mime="video/webm",
        caption="a red, a green and a blue screen",
    )
    item.file.save("original.webm", ContentFile(data), save=False)
    item.proxy.save("proxy.webm", ContentFile(data), save=False)
    item.thumbnail.save("thumbnail.jpg", ContentFile(jpeg((200, 0, 0))), save=False)
    item.save()
    colours = [(200, 0, 0), (0, 200, 0), (0, 0, 200)]
    for index in range(SECONDS):
        concept = 1 if index == 1 else 0
        shot = Shot(
            item=item,
            index=index,
            shot_number=index,
            start_s=float(index),
            end_s=float(index + 1),
            start_frame=index * FPS,
            end_frame=(index + 1) * FPS,
            cut_probability=0.9 if index else None,
            keyframe_s=index + 0.5,
            tags=[{"concept_id": concept, "name": ["dog", "cat"][concept], "score": 0.8}],
            cams={str(concept): CAM},
            caption=f"a {['red', 'green', 'blue'][index]} screen",
        )
        shot.keyframe.save("keyframe.jpg", ContentFile(jpeg(colours[index])), save=False)
        shot.save()
    for rank, (cid, name, spans) in enumerate(
        [(0, "dog", [(0.0, 1.0, 0), (2.0, 3.0, 2)]), (1, "cat", [(1.0, 2.0, 1)])]
    ):
        Tag.objects.create(
            item=item,
            rank=rank,
            concept_id=cid,
            name=name,
            score=0.5,
            cam=CAM,
            justification=f"{name} on screen",
            instances=[
                {"start": a, "end": b, "confidence": 0.8, "shot": s, "keyframe_s": a + 0.5}
                for a, b, s in spans
            ],
        )
    return item


def current_time(page) -> float:
    return page.evaluate("() => document.getElementById('player').currentTime")


def test_timeline_ranges_seek_the_player_and_show_their_evidence(
    page, log_in, live_server, clip, tmp_path
):
    proxy_statuses = []
    page.on(
        "response",
        lambda r: proxy_statuses.append(r.status) if r.url.endswith("/proxy") else None,
    )
    log_in(page, live_server.url, "carol", "carol-password-1")
    page.goto(f"{live_server.url}/media/{clip.pk}/")
    # the proxy loads (a <video> asks for ranges: 206)
    page.wait_for_function("() => document.getElementById('player').readyState >= 1")
    assert abs(page.evaluate("() => document.getElementById('player').duration") - SECONDS) < 0.2
    assert 206 in proxy_statuses

    rows = page.locator("[data-testid=tag-row]")
    assert rows.count() == 2
    cat = page.locator('[data-testid=tag-row][aria-label="cat"] button.range')
    assert cat.count() == 1 and cat.get_attribute("data-start") == "1.000"
    cat.click()
    page.wait_for_function(
        "() => Math.abs(document.getElementById('player').currentTime - 1.0) < 0.05"
    )
    assert "at-time" in cat.get_attribute("class")
    assert cat.get_attribute("aria-current") == "time"
    assert page.url.endswith("#t=1.000")

    # hovering a range shows its keyframe with the tag's heat map, and says what it is
    dog = page.locator('[data-testid=tag-row][aria-label="dog"] button.range').nth(1)
    dog.hover()
    preview = page.locator("#preview-image")
    page.wait_for_function(
        "() => { const i = document.getElementById('preview-image');"
        " return i.complete && i.naturalWidth > 0; }"
    )
    assert preview.get_attribute("src").endswith(f"/media/{clip.pk}/shots/2/tags/0/heatmap.jpg")
    assert page.locator("#preview-caption").inner_text().startswith("dog, 0:02")

    # the keyboard reaches the ranges (they are buttons): focus, then Enter seeks
    first_dog = page.locator('[data-testid=tag-row][aria-label="dog"] button.range').first
    first_dog.focus()
    assert page.locator("#preview-caption").inner_text().startswith("dog, 0:00")
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.getElementById('player').currentTime < 0.05")

    shot_dir = os.environ.get("GLASSBOX_E2E_SCREENSHOTS")
    page.screenshot(path=str(tmp_path / "video.png"), full_page=True)
    if shot_dir:
        page.screenshot(path=os.path.join(shot_dir, "video-item.png"), full_page=True)


def test_a_time_in_the_address_seeks_on_load_and_highlights_its_ranges(
    page, log_in, live_server, clip
):
    log_in(page, live_server.url, "carol", "carol-password-1")
    page.goto(f"{live_server.url}/media/{clip.pk}/#t=2")
    page.wait_for_function(
        "() => { const p = document.getElementById('player');"
        " return p.readyState >= 1 && Math.abs(p.currentTime - 2) < 0.05; }"
    )
    dog = page.locator('[data-testid=tag-row][aria-label="dog"] button.range')
    cat = page.locator('[data-testid=tag-row][aria-label="cat"] button.range')
    assert "at-time" not in dog.nth(0).get_attribute("class")
    assert "at-time" in dog.nth(1).get_attribute("class")  # 2-3 s holds 2
    assert "at-time" not in cat.first.get_attribute("class")  # 1-2 s ends before it
    highlighted = page.locator("button.range.at-time")
    # the dog's range, the third shot, and the cut at 2 s (its frames, on the Cuts row)
    assert highlighted.count() == 3
    assert page.locator("button.range-cut.at-time").count() == 1
    # the page follows a new address without reloading
    page.evaluate("() => { window.location.hash = 't=1.5'; }")
    page.wait_for_function(
        "() => Math.abs(document.getElementById('player').currentTime - 1.5) < 0.05"
    )
    assert "at-time" in cat.first.get_attribute("class")
