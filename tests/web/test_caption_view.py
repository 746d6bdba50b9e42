"""The grounded caption: stored by the worker's write, returned by the API, shown on the item
page as clickable phrases whose evidence boxes are drawn over the image."""

from __future__ import annotations

import re

import numpy as np
from django.urls import reverse
from glassbox.concepts import ConceptBank
from glassbox.explain.caption import NO_CAPTION, compose_caption
from media.actions import lifecycle
from media.presenters import caption_view

from .conftest import fake_analysis

UNTRUSTED = '<script>alert("ocr")</script>'


def bank() -> ConceptBank:
    names = ("Eskimo dog", "bicycle", "dog")
    return ConceptBank(
        wnids=("n1", "n2", "n3"),
        names=names,
        glosses=("", "", ""),
        embeddings=np.eye(3, dtype=np.float32),
        version="test",
        members=np.array([[True, False]]),
    )


def hot(row: int, col: int) -> np.ndarray:
    grid = np.zeros((7, 7), dtype=np.float32)
    grid[row, col] = 5.0
    return grid


def a_caption(lines=()):
    return compose_caption(
        {0: 0.6, 1: 0.3}, bank(), {0: hot(3, 1), 1: hot(3, 5)}, lines, aspect=(48, 64)
    )


def record(item, bank_embeddings, caption) -> None:
    analysis = fake_analysis(bank_embeddings, caption=caption)
    assert lifecycle.record_analysis(item.pk, analysis)
    item.refresh_from_db()


def test_record_analysis_stores_the_caption_and_its_phrases(make_item, bank_embeddings):
    item = make_item()
    assert (item.caption, item.caption_phrases) == ("", [])  # an analysis without a caption
    record(item, bank_embeddings, a_caption())
    assert item.caption == "An Eskimo dog on the left of a bicycle."
    assert [p["kind"] for p in item.caption_phrases] == ["concept", "position", "concept"]
    for p in item.caption_phrases:
        assert item.caption[p["start"] : p["end"]] == p["label"] and p["boxes"]


def test_api_returns_the_caption_text_and_phrases_with_boxes(api, make_item, bank_embeddings):
    item = make_item()
    record(item, bank_embeddings, a_caption())
    body = api.get(reverse("api:media-detail", args=[item.pk])).json()
    caption = body["caption"]
    assert caption["text"] == "An Eskimo dog on the left of a bicycle."
    first = caption["phrases"][0]
    assert set(first) >= {"start", "end", "kind", "label", "boxes"}
    assert (first["start"], first["end"], first["kind"], first["label"]) == (
        3,
        13,
        "concept",
        "Eskimo dog",
    )
    (box,) = first["boxes"]
    assert len(box) == 4 and 0 <= box[0] < box[2] <= 0.5
    position = caption["phrases"][1]
    assert position["kind"] == "position" and len(position["boxes"]) == 2
    assert position["concept_ids"] == [0, 1]


def test_api_caption_is_null_before_analysis_and_plain_when_nothing_is_confident(
    api, make_item, bank_embeddings
):
    pending = make_item(ready=False)
    assert api.get(reverse("api:media-detail", args=[pending.pk])).json()["caption"] is None
    item = make_item()
    record(item, bank_embeddings, compose_caption({}, bank(), {}))
    caption = api.get(reverse("api:media-detail", args=[item.pk])).json()["caption"]
    assert caption == {"text": NO_CAPTION, "phrases": []}


def test_item_page_shows_each_phrase_as_a_button_with_its_region_boxes(
    alice_web, make_item, bank_embeddings
):
    item = make_item()
    record(item, bank_embeddings, a_caption())
    html = alice_web.get(reverse("media:detail", args=[item.pk])).content.decode()
    caption = re.search(r'<p class="caption"[^>]*>(.*?)</p>', html, re.S).group(1)
    buttons = re.findall(
        r'<button type="button" class="phrase[^"]*"[^>]*>([^<]*)</button>', caption
    )
    assert buttons == ["Eskimo dog", "on the left of", "bicycle"]
    assert re.sub(r"<[^>]+>", "", caption) == "An Eskimo dog on the left of a bicycle."
    assert 'aria-controls="caption-region-0-0"' in caption
    regions = re.findall(r'<div class="phrase-region overlay[^"]*" id="([^"]+)"[^>]*hidden>', html)
    assert regions == [
        "caption-region-0-0",
        "caption-region-1-0",
        "caption-region-1-1",
        "caption-region-2-0",
    ]
    assert 'style="left:' in html


def test_untrusted_ocr_text_in_the_caption_is_escaped_on_the_page_and_plain_in_the_api(
    alice_web, api, make_item, bank_embeddings
):
    item = make_item()
    record(item, bank_embeddings, a_caption([(UNTRUSTED, (0.1, 0.1, 0.9, 0.3), 0.99)]))
    text_phrase = item.caption_phrases[-1]
    assert text_phrase["kind"] == "text" and text_phrase["label"] == "<script>alert('ocr')</script>"

    html = alice_web.get(reverse("media:detail", args=[item.pk])).content.decode()
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#x27;ocr&#x27;)&lt;/script&gt;" in html

    body = api.get(reverse("api:media-detail", args=[item.pk])).json()
    assert body["caption"]["phrases"][-1]["label"] == "<script>alert('ocr')</script>"


def test_caption_view_never_makes_a_phrase_clickable_without_a_usable_box():
    text = "A dog and a cat."
    phrases = [
        {"start": 2, "end": 5, "kind": "concept", "label": "dog", "boxes": [[0.1, 0.1, 0.4, 0.4]]},
        {"start": 12, "end": 15, "kind": "concept", "label": "cat", "boxes": []},
        {"start": 40, "end": 50, "kind": "concept", "label": "x", "boxes": [[0, 0, 1, 1]]},
        {"start": 3, "end": 4, "kind": "concept", "label": "o", "boxes": [[0, 0, 1, 1]]},
        {"start": 6, "end": 9, "kind": "<b>", "label": "and", "boxes": [[0, 0, 1, 1]]},
        {"start": 10, "end": 11, "kind": "count", "label": "a", "boxes": [["nan", 0, 1, 1]]},
        {"start": 10, "end": 11, "kind": "count", "label": "a", "boxes": [[0.5, 0, 0.5, 1]]},
        {"start": "x", "end": 1, "kind": "concept"},
    ]
    view = caption_view(text, phrases)
    assert "".join(s["text"] for s in view["segments"]) == text
    assert [s["text"] for s in view["segments"] if s["phrase"] is not None] == ["dog"]
    assert len(view["regions"]) == 1
    assert caption_view("", []) is None
