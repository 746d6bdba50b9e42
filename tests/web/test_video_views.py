"""A video's page, files and API (issue 10, parts 6 and 7): the playable copy with range
requests, keyframes and heat maps per window, the WebVTT tracks, the player and its timeline,
the API's video fields, all behind ``visible_to``; an image's responses stay as they were.

Videos are made with the ORM (no decoding): a few bytes stand for the proxy, generated JPEGs
for the keyframes."""

from __future__ import annotations

import io
import json
import re
from html.parser import HTMLParser

import jsonschema
import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse
from media.models import MediaItem, Shot, Tag
from media.ranges import Unsatisfiable, parse_range
from PIL import Image

from .conftest import jpeg
from .test_security_headers import blocked

PROXY = bytes(range(256)) * 4  # 1024 bytes, each position recognisable
SIZE = len(PROXY)
CAM = [[float(r == 1 and c == 5) for c in range(7)] for r in range(7)]  # hot near the top right
XSS = "<script>alert(1)</script>"


def make_video(
    owner,
    *,
    visibility="private",
    status="ready",
    proxy=True,
    proxy_mime="video/mp4",
    progress=None,
    caption=f"a dog {XSS} runs",
) -> MediaItem:
    """A 6 s video in three windows: shot 0 (0-2 s), shot 1 cut at 2 s (p 0.97) in two
    windows (2-4, 4-6); tag "dog" at 0-2 and 4-6, "EXIT" read at 2-4, a flagging detection
    at 4-6."""
    item = MediaItem(
        owner=owner,
        title="clip",
        kind=MediaItem.Kind.VIDEO,
        visibility=visibility,
        mime="video/mp4",
        width=320,
        height=180,
        size_bytes=SIZE,
        duration_s=6.0,
        fps=25.0,
        frame_count=150,
        status=status,
        proxy_mime=proxy_mime,
        progress=progress or {},
        caption=caption,
        text_lines=[
            {"text": f"EXIT {XSS}", "box": [0.1, 0.1, 0.4, 0.3], "score": 0.93}
            | {"start": 2.0, "end": 4.0, "shot": 1}
        ],
        nsfw=[
            {"label": "BUTTOCKS_EXPOSED", "box": [0.5, 0.5, 0.9, 0.9], "score": 0.91}
            | {"start": 4.0, "end": 6.0, "shot": 2},
            {"label": "FACE_FEMALE", "box": [0.2, 0.2, 0.3, 0.3], "score": 0.8}
            | {"start": 0.0, "end": 2.0, "shot": 0},
        ],
    )
    item.file.save("original.mp4", ContentFile(b"original-" + PROXY), save=False)
    item.thumbnail.save("thumbnail.jpg", ContentFile(jpeg(160, 90)), save=False)
    if proxy:
        item.proxy.save("proxy.mp4", ContentFile(PROXY), save=False)
    item.save()
    windows = [(0, 0, 0.0, 2.0, None), (1, 1, 2.0, 4.0, 0.97), (2, 1, 4.0, 6.0, None)]
    for index, number, start, end, cut in windows:
        shot = Shot(
            item=item,
            index=index,
            shot_number=number,
            start_s=start,
            end_s=end,
            start_frame=int(start * 25),
            end_frame=int(end * 25),
            cut_probability=cut,
            keyframe_s=start + 1.0,
            tags=[{"concept_id": 3, "name": "dog", "score": 0.8, "box": None, "justification": ""}]
            if index != 1
            else [],
            cams={"3": CAM} if index != 1 else {},
            caption=f"shot {number} {XSS}" if index != 2 else "",
        )
        shot.keyframe.save("keyframe.jpg", ContentFile(jpeg(320, 180, (40, 40, 40))), save=False)
        shot.save()
    Tag.objects.create(
        item=item,
        rank=0,
        concept_id=3,
        name="dog",
        score=0.53,
        cam=CAM,
        justification=f"dog in 0:00–0:02 and 0:04–0:06 {XSS}",
        path=["animal"],
        instances=[
            {"start": 0.0, "end": 2.0, "confidence": 0.8, "shot": 0, "keyframe_s": 1.0},
            {"start": 4.0, "end": 6.0, "confidence": 0.78, "shot": 2, "keyframe_s": 5.0},
        ],
    )
    return item


@pytest.fixture
def video(alice):
    return make_video(alice)


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def proxy_url(item) -> str:
    return reverse("media:proxy", args=[item.pk])


# -- range requests --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("bytes=0-99", (0, 99)),
        ("bytes=100-", (100, SIZE - 1)),
        ("bytes=-100", (SIZE - 100, SIZE - 1)),
        ("bytes=-5000", (0, SIZE - 1)),
        ("bytes=1000-99999", (1000, SIZE - 1)),
        ("BYTES = 5-5", (5, 5)),
        ("items=0-5", None),  # another unit: ignored
        ("bytes=0-1,5-6", None),  # several ranges: the whole file
    ],
)
def test_parse_range(header, expected):
    assert parse_range(header, SIZE) == expected


@pytest.mark.parametrize(
    "header",
    ["bytes=", "bytes=-", "bytes=-0", "bytes=5-2", f"bytes={SIZE}-", "bytes=a-b", "bytes=1-2,x"],
)
def test_parse_range_refuses_malformed_and_unsatisfiable_ranges(header):
    with pytest.raises(Unsatisfiable):
        parse_range(header, SIZE)
    with pytest.raises(Unsatisfiable):
        parse_range("bytes=0-0", 0)


def test_the_whole_proxy_says_it_accepts_ranges(alice_web, video):
    response = alice_web.get(proxy_url(video))
    assert response.status_code == 200
    assert response["Accept-Ranges"] == "bytes" and response["Content-Length"] == str(SIZE)
    assert response["Content-Type"] == "video/mp4" and body(response) == PROXY
    assert response["Cache-Control"].startswith("private")


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [
        ("bytes=10-19", 10, 19),
        ("bytes=0-", 0, SIZE - 1),  # what a <video> asks first
        ("bytes=1000-", 1000, SIZE - 1),
        ("bytes=-24", SIZE - 24, SIZE - 1),  # suffix
        ("bytes=-99999", 0, SIZE - 1),
        ("bytes=1020-5000", 1020, SIZE - 1),  # past the end: clipped
    ],
)
def test_a_range_is_206_partial_content(alice_web, video, header, first, last):
    response = alice_web.get(proxy_url(video), HTTP_RANGE=header)
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes {first}-{last}/{SIZE}"
    assert response["Content-Length"] == str(last - first + 1)
    assert response["Accept-Ranges"] == "bytes" and response["Content-Type"] == "video/mp4"
    assert body(response) == PROXY[first : last + 1]


@pytest.mark.parametrize("header", [f"bytes={SIZE}-", "bytes=9-3", "bytes=-0", "bytes=x-1"])
def test_an_unsatisfiable_range_is_416(alice_web, video, header):
    response = alice_web.get(proxy_url(video), HTTP_RANGE=header)
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{SIZE}"


def test_if_range_serves_the_range_only_while_the_file_is_the_same(alice_web, video):
    etag = alice_web.get(proxy_url(video))["ETag"]
    same = alice_web.get(proxy_url(video), HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE=etag)
    assert same.status_code == 206 and body(same) == PROXY[:10]
    changed = alice_web.get(proxy_url(video), HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE='"other"')
    assert changed.status_code == 200 and body(changed) == PROXY


def test_other_units_and_several_ranges_get_the_whole_file(alice_web, video):
    for header in ("items=0-9", "bytes=0-9,20-29"):
        response = alice_web.get(proxy_url(video), HTTP_RANGE=header)
        assert response.status_code == 200 and body(response) == PROXY


def test_head_answers_the_headers(alice_web, video):
    response = alice_web.head(proxy_url(video), HTTP_RANGE="bytes=0-9")
    assert response.status_code == 206 and response["Content-Range"] == f"bytes 0-9/{SIZE}"
    assert alice_web.post(proxy_url(video)).status_code == 405


def test_the_original_plays_when_no_proxy_was_needed(alice_web, alice):
    item = make_video(alice, proxy=False, proxy_mime="video/webm")
    response = alice_web.get(proxy_url(item), HTTP_RANGE="bytes=0-8")
    assert response.status_code == 206 and body(response) == b"original-"
    assert response["Content-Type"] == "video/webm"
    undecided = make_video(alice, proxy=False, proxy_mime="", status="processing")
    assert alice_web.get(proxy_url(undecided)).status_code == 404


# -- keyframes and heat maps ------------------------------------------------------------------


def image_of(response) -> Image.Image:
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    return Image.open(io.BytesIO(body(response))).convert("RGB")


def test_keyframe_and_its_heat_maps_are_jpegs(alice_web, video):
    keyframe = image_of(alice_web.get(reverse("media:keyframe", args=[video.pk, 0])))
    assert keyframe.size == (320, 180)
    heat = image_of(alice_web.get(reverse("media:shot-tag-heatmap", args=[video.pk, 0, 3])))
    assert heat.size == (448, 252)  # longest side 448, the keyframe's aspect
    # the CAM is hot near the top right: that part is coloured, the bottom left stays grey
    hot, cold = heat.getpixel((352, 54)), heat.getpixel((40, 220))
    assert max(hot) - min(hot) > 60 and max(cold) - min(cold) < 12
    query = alice_web.get(reverse("media:shot-heatmap", args=[video.pk, 0]) + "?c=3:0.5,999:1")
    assert image_of(query).size == (448, 252)
    unknown = alice_web.get(reverse("media:shot-heatmap", args=[video.pk, 0]) + "?c=999:1")
    plain = image_of(unknown).getpixel((352, 54))
    assert max(plain) - min(plain) < 12  # no map of it: the bare keyframe


def test_heat_maps_refuse_what_they_do_not_have(alice_web, video):
    missing = [
        reverse("media:shot-tag-heatmap", args=[video.pk, 1, 3]),  # no map of it there
        reverse("media:shot-tag-heatmap", args=[video.pk, 9, 3]),  # no such window
        reverse("media:keyframe", args=[video.pk, 9]),
        reverse("media:shot-heatmap", args=[video.pk, 9]) + "?c=3:1",
    ]
    for url in missing:
        assert alice_web.get(url).status_code == 404, url
    for query in ("", "?c=", "?c=dog", "?c=3:x"):
        url = reverse("media:shot-heatmap", args=[video.pk, 0]) + query
        assert alice_web.get(url).status_code == 400


def video_file_urls(item) -> list[str]:
    return [
        reverse("media:proxy", args=[item.pk]),
        reverse("media:keyframe", args=[item.pk, 0]),
        reverse("media:shot-tag-heatmap", args=[item.pk, 0, 3]),
        reverse("media:shot-heatmap", args=[item.pk, 0]) + "?c=3:1",
        reverse("media:chapters", args=[item.pk]),
        reverse("media:metadata", args=[item.pk]),
        reverse("media:detail", args=[item.pk]),
    ]


def test_a_private_videos_files_are_404_to_another_user(video, bob_web, bob_api):
    for url in video_file_urls(video):
        assert bob_web.get(url).status_code == 404, url
        assert bob_web.get(url, HTTP_RANGE="bytes=0-1").status_code == 404, url
    assert bob_api.get(reverse("api:media-detail", args=[video.pk])).status_code == 404
    for url in video_file_urls(video):  # nobody logged in: the login page
        response = Client().get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], url


def test_a_public_videos_files_are_served_to_another_user(alice, bob_web):
    item = make_video(alice, visibility="public")
    for url in video_file_urls(item):
        assert bob_web.get(url).status_code == 200, url


def test_an_images_video_views_are_404(alice_web, make_item):
    image = make_item()
    for name in ("media:proxy", "media:chapters", "media:metadata"):
        assert alice_web.get(reverse(name, args=[image.pk])).status_code == 404
    assert alice_web.get(reverse("media:keyframe", args=[image.pk, 0])).status_code == 404


# -- WebVTT -----------------------------------------------------------------------------------

TIMING = re.compile(
    r"^(\d{2,}):([0-5]\d):([0-5]\d)\.(\d{3}) --> (\d{2,}):([0-5]\d):([0-5]\d)\.(\d{3})$"
)


def seconds(h, m, s, ms) -> float:
    return int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000


def parse_vtt(text: str) -> list[dict]:
    """A strict reading of the files we write: the header, then blank-line separated cues of
    an optional id, a timing line and one payload line."""
    assert text.endswith("\n") and "\r" not in text
    header, *blocks = text.rstrip("\n").split("\n\n")
    assert header == "WEBVTT"
    cues = []
    for block in blocks:
        lines = block.split("\n")
        ident = lines.pop(0) if "-->" not in lines[0] else None
        match = TIMING.match(lines[0])
        assert match, lines[0]
        assert len(lines) == 2 and "-->" not in lines[1]
        g = match.groups()
        cues.append(
            {"id": ident, "start": seconds(*g[:4]), "end": seconds(*g[4:]), "text": lines[1]}
        )
    assert [c["start"] for c in cues] == sorted(c["start"] for c in cues)
    return cues


def test_chapters_are_one_cue_per_detected_shot_titled_by_its_caption(alice_web, video):
    response = alice_web.get(reverse("media:chapters", args=[video.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/vtt; charset=utf-8"
    cues = parse_vtt(response.content.decode())
    assert [(c["id"], c["start"], c["end"]) for c in cues] == [
        ("shot-1", 0.0, 2.0),
        ("shot-2", 2.0, 6.0),  # both windows of shot 1
    ]
    assert cues[0]["text"] == "shot 0 &lt;script&gt;alert(1)&lt;/script&gt;"
    assert "<" not in response.content.decode()


def test_metadata_is_one_json_cue_per_tag_range(alice_web, video):
    response = alice_web.get(reverse("media:metadata", args=[video.pk]))
    assert response["Content-Type"] == "text/vtt; charset=utf-8"
    cues = parse_vtt(response.content.decode())
    assert [(c["start"], c["end"]) for c in cues] == [(0.0, 2.0), (4.0, 6.0)]
    assert [json.loads(c["text"]) for c in cues] == [
        {"kind": "tag", "name": "dog", "confidence": 0.8, "key": "3"},
        {"kind": "tag", "name": "dog", "confidence": 0.78, "key": "3"},
    ]


def test_tracks_of_a_video_not_analysed_yet_are_empty(alice_web, alice):
    item = make_video(alice, status="queued")
    item.shots.all().delete()
    item.tags.all().delete()
    for name in ("media:chapters", "media:metadata"):
        assert alice_web.get(reverse(name, args=[item.pk])).content == b"WEBVTT\n"


# -- the page ---------------------------------------------------------------------------------


class Elements(HTMLParser):
    """Every start tag's attributes, by tag name."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, dict(attrs)))

    def all(self, tag: str, **wanted) -> list[dict]:
        return [
            a for t, a in self.found if t == tag and all(a.get(k) == v for k, v in wanted.items())
        ]


def page_of(client, item) -> tuple[str, Elements]:
    response = client.get(reverse("media:detail", args=[item.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    parsed = Elements()
    parsed.feed(html)
    return html, parsed


def test_the_page_plays_the_proxy_with_poster_and_tracks(alice_web, video):
    html, page = page_of(alice_web, video)
    (player,) = page.all("video", id="player")
    assert player["poster"] == reverse("media:thumbnail", args=[video.pk])
    assert "controls" in player
    (source,) = page.all("source")
    assert source == {"src": proxy_url(video), "type": "video/mp4"}
    chapters, metadata = page.all("track")
    assert chapters["kind"] == "chapters" and chapters["src"] == reverse(
        "media:chapters", args=[video.pk]
    )
    assert metadata["kind"] == "metadata" and metadata["src"] == reverse(
        "media:metadata", args=[video.pk]
    )
    assert page.all("script", src="/static/glassbox/player.js")
    assert blocked(html) == []


def test_the_timeline_has_cuts_tag_text_and_flag_rows_of_seekable_ranges(alice_web, video):
    from moderation import storing

    hit = {
        "policy": "explicit-nudity",
        "score": 0.91,
        "hide": False,
        "rule": "explicit nudity: BUTTOCKS_EXPOSED 0.91 ≥ 0.50",
        "evidence": [
            {
                "kind": "nudity",
                "label": "BUTTOCKS_EXPOSED",
                "score": 0.91,
                "box": [0.5, 0.5, 0.9, 0.9],
                "concept": None,
                "text": None,
            }
        ],
        "counterfactual": None,
    }
    storing.store_window_hits(video.shots.get(index=2), [hit])  # the window at 4-6 s
    storing.store_video_flags(video)
    html, page = page_of(alice_web, video)
    (cut,) = page.all("span", **{"data-testid": "cut"})
    assert cut["title"] == "cut at 0:02.00, p = 0.97" and cut["data-start"] == "2.000"
    assert cut["style"] == "left:33.333%"
    ranges = page.all("button", **{"data-testid": "range"})
    assert all(r["type"] == "button" and r["aria-label"] for r in ranges)
    by_kind = {}
    for r in ranges:
        by_kind.setdefault(r["data-kind"], []).append(r)
    assert [(r["data-start"], r["data-end"]) for r in by_kind["shot"]] == [
        ("0.000", "2.000"),
        ("2.000", "6.000"),
    ]
    dog = by_kind["tag"]
    assert [(r["data-start"], r["data-end"], r["data-shot"]) for r in dog] == [
        ("0.000", "2.000", "0"),
        ("4.000", "6.000", "2"),
    ]
    assert dog[1]["style"] == "left:66.667%;width:33.333%"
    assert dog[1]["data-preview"] == reverse("media:shot-tag-heatmap", args=[video.pk, 2, 3])
    assert dog[0]["aria-label"] == "dog, 0:00–0:02, confidence 0.80"
    (text,) = by_kind["text"]
    assert (text["data-start"], text["data-end"]) == ("2.000", "4.000")
    assert text["data-preview"] == reverse("media:keyframe", args=[video.pk, 1])
    assert json.loads(text["data-boxes"]) == [[0.1, 0.1, 0.4, 0.3]]
    assert text["aria-label"] == f"Read text “EXIT {XSS}”, 0:02–0:04"  # unescaped by the parser
    (flag,) = by_kind["flag"]  # the moderation flag of the window at 4-6 s
    assert (flag["data-start"], flag["data-end"]) == ("4.000", "6.000")
    assert flag["aria-label"].startswith(
        "Flagged (pending): explicit nudity: BUTTOCKS_EXPOSED 0.91"
    )
    (row,) = page.all("div", **{"data-testid": "tag-row"})
    assert row["aria-label"] == "dog"
    for testid in ("shots-row", "text-row", "flag-row"):
        assert page.all("div", **{"data-testid": testid}), testid
    assert "dog in 0:00–0:02 and 0:04–0:06" in html  # the row's justification


def test_the_page_escapes_untrusted_text(alice_web, video):
    html, _ = page_of(alice_web, video)
    assert XSS not in html
    assert "a dog &lt;script&gt;alert(1)&lt;/script&gt; runs" in html  # the caption
    assert "&lt;script&gt;" in html.split('data-testid="timeline"')[1]  # read text, reasons
    assert blocked(html) == []


def test_a_video_being_analysed_shows_its_progress(alice_web, alice):
    progress = {"stage": "keyframes", "done": 12, "total": 40}
    item = make_video(alice, status="processing", proxy=False, proxy_mime="", progress=progress)
    html, page = page_of(alice_web, item)
    (line,) = page.all("p", **{"data-testid": "progress"})
    assert "hidden" not in line and line["data-progress-for"] == str(item.pk)
    assert "keyframes 12 / 40" in html
    (bar,) = page.all("progress")
    assert (bar["max"], bar["value"]) == ("40", "12")
    assert page.all("article", id="item")[0]["data-pending"] == "1"  # app.js polls the API
    assert not page.all("video") and page.all("p", **{"data-testid": "no-player"})
    ready_html, ready = page_of(alice_web, make_video(alice))
    assert "hidden" in ready.all("p", **{"data-testid": "progress"})[0]


def test_an_image_page_is_unchanged(alice_web, make_item):
    html, page = page_of(alice_web, make_item())
    assert not page.all("video") and 'data-testid="timeline"' not in html
    assert page.all("img", **{"class": "original"})
    assert not page.all("script", src="/static/glassbox/player.js")


def test_player_js_keeps_data_out_of_markup():
    from pathlib import Path

    source = (Path(__file__).resolve().parents[2] / "web/static/glassbox/player.js").read_text()
    assert "innerHTML" not in source and "insertAdjacentHTML" not in source
    assert "textContent" in source


# -- the API ----------------------------------------------------------------------------------

IMAGE_FIELDS = {
    "id", "url", "page_url", "title", "owner", "visibility", "kind", "status", "mime",
    "width", "height", "thumbnail_url", "created", "original_url", "size_bytes",
    "failure_reason", "attempts", "updated", "analyzed_at", "timings", "tags", "caption",
    "text_lines", "nsfw", "objects",
}  # fmt: skip
IMAGE_TAG_FIELDS = {
    "id", "name", "path", "wnid", "concept_id", "score", "heatmap_url", "box",
    "justification", "contributing_concepts", "faithfulness", "source", "detections",
}  # fmt: skip
VIDEO_FIELDS = {
    "duration_s", "fps", "frame_count", "proxy_url", "chapters_url", "metadata_url",
    "progress", "shots",
}  # fmt: skip


def detail(api, item) -> dict:
    response = api.get(reverse("api:media-detail", args=[item.pk]))
    assert response.status_code == 200
    return response.json()


def test_the_api_describes_a_video(api, video):
    data = detail(api, video)
    assert set(data) == IMAGE_FIELDS | VIDEO_FIELDS
    assert data["kind"] == "video"
    assert (data["duration_s"], data["fps"], data["frame_count"]) == (6.0, 25.0, 150)
    base = "http://testserver"
    assert data["proxy_url"] == base + proxy_url(video)
    assert data["chapters_url"] == base + reverse("media:chapters", args=[video.pk])
    assert data["metadata_url"] == base + reverse("media:metadata", args=[video.pk])
    assert data["progress"] is None
    assert [
        (s["index"], s["shot_number"], s["start_s"], s["end_s"], s["cut_probability"])
        for s in data["shots"]
    ] == [(0, 0, 0.0, 2.0, None), (1, 1, 2.0, 4.0, 0.97), (2, 1, 4.0, 6.0, None)]
    first = data["shots"][0]
    assert first["keyframe_url"] == base + reverse("media:keyframe", args=[video.pk, 0])
    assert first["caption"] == f"shot 0 {XSS}" and first["keyframe_s"] == 1.0
    assert first["tags"] == [
        {
            "concept_id": 3,
            "name": "dog",
            "score": 0.8,
            "heatmap_url": base + reverse("media:shot-tag-heatmap", args=[video.pk, 0, 3]),
        }
    ]
    (tag,) = data["tags"]
    assert set(tag) == IMAGE_TAG_FIELDS | {"instances"}
    assert [(i["start"], i["end"], i["confidence"], i["shot"]) for i in tag["instances"]] == [
        (0.0, 2.0, 0.8, 0),
        (4.0, 6.0, 0.78, 2),
    ]
    assert tag["instances"][1]["keyframe_url"] == base + reverse(
        "media:keyframe", args=[video.pk, 2]
    )
    assert tag["instances"][1]["heatmap_url"] == base + reverse(
        "media:shot-tag-heatmap", args=[video.pk, 2, 3]
    )
    assert data["text_lines"] == [
        {"start": 2.0, "end": 4.0, "shot": 1, "text": f"EXIT {XSS}", "box": [0.1, 0.1, 0.4, 0.3]}
        | {"score": 0.93}
    ]
    assert [(d["label"], d["start"], d["end"], d["shot"]) for d in data["nsfw"]] == [
        ("BUTTOCKS_EXPOSED", 4.0, 6.0, 2),
        ("FACE_FEMALE", 0.0, 2.0, 0),
    ]
    text = json.dumps(data)
    for secret in ("vector", "appearance", "weights", '"cams"', "profile"):
        assert secret not in text


def test_the_api_reports_a_videos_progress_and_no_proxy_before_it_is_made(api, alice):
    progress = {"stage": "keyframes", "done": 1, "total": 3}
    item = make_video(alice, status="processing", proxy=False, proxy_mime="", progress=progress)
    data = detail(api, item)
    assert data["progress"] == progress and data["proxy_url"] is None
    assert data["chapters_url"].endswith(reverse("media:chapters", args=[item.pk]))


def test_an_images_api_response_is_unchanged(api, make_item):
    item = make_item()
    item.text_lines = [{"text": "EXIT", "box": [0.1, 0.1, 0.4, 0.3], "score": 0.9}]
    item.nsfw = [{"label": "FACE_FEMALE", "box": [0.2, 0.2, 0.3, 0.3], "score": 0.8}]
    item.save()
    data = detail(api, item)
    assert set(data) == IMAGE_FIELDS
    assert all(set(t) == IMAGE_TAG_FIELDS for t in data["tags"]) and data["tags"]
    assert data["text_lines"] == [{"text": "EXIT", "box": [0.1, 0.1, 0.4, 0.3], "score": 0.9}]
    assert set(data["nsfw"][0]) == {"label", "box", "score"}
    listed = api.get(reverse("api:media-list")).json()["results"][0]
    assert "shots" not in listed and "duration_s" not in listed


def json_schema(openapi: dict, component: str) -> dict:
    """The OpenAPI 3.0 component as JSON Schema: ``nullable`` becomes a null alternative."""

    def convert(node):
        if isinstance(node, list):
            return [convert(n) for n in node]
        if not isinstance(node, dict):
            return node
        out = {k: convert(v) for k, v in node.items() if k != "nullable"}
        if node.get("nullable"):
            return {"anyOf": [out, {"type": "null"}]}
        return out

    return {
        "$ref": f"#/components/schemas/{component}",
        "components": convert(openapi["components"]),
    }


@pytest.mark.parametrize("kind", ["video", "processing video", "image"])
def test_the_schema_documents_video_and_image_responses(api, alice, make_item, kind):
    schema = api.get(reverse("api:schema"), HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    detail_schema = schema["components"]["schemas"]["MediaDetail"]
    assert VIDEO_FIELDS <= set(detail_schema["properties"])
    assert not VIDEO_FIELDS & set(detail_schema["required"])  # an image's has none of them
    if kind == "image":
        item = make_item()
    elif kind == "video":
        item = make_video(alice)
    else:
        progress = {"stage": "shots", "done": 0, "total": 1}
        item = make_video(alice, status="processing", proxy=False, proxy_mime="", progress=progress)
    jsonschema.validate(detail(api, item), json_schema(schema, "MediaDetail"))
