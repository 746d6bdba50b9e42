"""Rows into search records (search.records): hydration reads what scoring needs, and the
page's details (read-text terms, caption phrases) are added in one query for the shown page."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext
from media.models import MediaItem, SemanticProfile
from search import records

TERM = {"text": "BAKERY", "weight": 0.2, "embedding": [0.5] * 4, "box": [0.1, 0.1, 0.4, 0.2]}


def with_text(make_item, **kw):
    item = make_item(**kw)
    SemanticProfile.objects.filter(item=item).update(text_terms=[TERM], cams={"3": [[0.5]]})
    MediaItem.objects.filter(pk=item.pk).update(
        caption="A dog.", caption_phrases=[{"start": 2, "end": 5, "boxes": [[0, 0, 1, 1]]}]
    )
    return item


def test_hydration_leaves_the_cams_and_text_embeddings_unread(make_item, alice):
    item = with_text(make_item)
    (record,) = records.hydrate(alice, [item.pk, item.pk])
    assert record.id == item.pk and record.caption == "A dog." and record.semantic.size
    assert {"cams", "text_terms"} <= record.item.profile.get_deferred_fields()
    assert record.text_terms == () and record.caption_phrases == ()


def test_details_are_read_in_one_query_for_the_page(make_item, alice):
    items = [with_text(make_item) for _ in range(3)]
    hydrated = records.hydrate(alice, [i.pk for i in items])
    with CaptureQueriesContext(connection) as queries:
        detailed = records.with_details(hydrated)
    assert len(queries) == 1
    for record in detailed:
        (term,) = record.text_terms
        assert term.text == "BAKERY" and list(term.box) == TERM["box"]
        (phrase,) = record.caption_phrases
        assert phrase.text == "dog" and phrase.boxes == [[0, 0, 1, 1]]


def test_items_the_viewer_may_not_see_are_not_hydrated(make_item, alice, bob):
    private = with_text(make_item, visibility="private")
    assert records.hydrate(bob, [private.pk]) == []
