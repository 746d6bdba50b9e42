"""Detected objects on the item page and in the API: each class with its count, its colour
(a swatch and a share) and its boxes; detector tags say what evidence they carry and draw
every box; untrusted text stays escaped."""

from __future__ import annotations

from django.urls import reverse
from media.models import MediaItem, Tag

XSS = "<script>alert(1)</script>"


def with_objects(item) -> MediaItem:
    MediaItem.objects.filter(pk=item.pk).update(
        detected_objects=[
            {
                "name": "bicycle",
                "class_id": 2,
                "concept_id": 3,
                "score": 0.98,
                "scores": [0.98],
                "boxes": [[0.1, 0.2, 0.7, 0.7]],
                "count": 1,
                "position": "centre",
                "in_front_of": [],
                "behind": [],
                "crowd": False,
                "also": [],
                "justification": f"bicycle 98%: detected in the box in the centre {XSS}",
                "colour": {
                    "name": "red",
                    "share": 0.62,
                    "swatch": [200, 30, 30],
                    "text": "red 62%",
                    "tone": "colour",
                    "shares": {"red": 0.62},
                },
            },
            {
                "name": "person",
                "class_id": 1,
                "concept_id": 5,
                "score": 0.9,
                "scores": [0.9, 0.8],
                "boxes": [[0.0, 0.5, 0.2, 0.9], [0.8, 0.5, 1.0, 0.9]],
                "count": 2,
                "position": "left",
                "in_front_of": [],
                "behind": [],
                "crowd": False,
                "also": [],
                "justification": "person 90%: detected in the box on the left, and 1 more person",
            },
        ]
    )
    Tag.objects.filter(item=item).update(
        source="detector",
        detections=[
            {"box": [0.0, 0.5, 0.2, 0.9], "score": 0.9},
            {"box": [0.8, 0.5, 1.0, 0.9], "score": 0.8},
        ],
    )
    return MediaItem.objects.get(pk=item.pk)


def test_the_page_lists_each_object_with_its_colour_and_boxes(alice_web, make_item):
    item = with_objects(make_item())
    html = alice_web.get(reverse("media:detail", args=[item.pk])).content.decode()
    assert 'data-testid="objects"' in html and "bicycle" in html and "×2" in html
    assert "red 62%" in html and "background:rgb(200,30,30)" in html
    assert XSS not in html and "&lt;script&gt;" in html
    assert html.count('class="phrase-region overlay detection"') == 3  # 1 + 2 boxes
    assert "detected box" in html and 'data-testid="detection-boxes"' in html


def test_the_api_gives_the_objects_and_each_tags_evidence(api, make_item):
    item = with_objects(make_item())
    body = api.get(reverse("api:media-detail", args=[item.pk])).json()
    names = [o["name"] for o in body["objects"]]
    assert names == ["bicycle", "person"] and body["objects"][0]["colour"]["text"] == "red 62%"
    assert {t["source"] for t in body["tags"]} == {"detector"}
    assert len(body["tags"][0]["detections"]) == 2
