"""Search v2 through the web layer, with Triton and Milvus replaced by fakes (see conftest):
filters reach the index as Milvus terms, channels explain results, the cut-off hides weak
matches, pagination, sorting, near-duplicates, find similar and query by image."""

import datetime as dt

import numpy as np
import pytest
from django.urls import reverse
from glassbox.index import Filters
from media.models import MediaItem
from search import engine

from .conftest import jpeg

PROBLEM = "application/problem+json"


def results(response):
    assert response.status_code == 200, response.content
    return response.json()["results"]


@pytest.mark.parametrize(
    ("params", "field", "needle"),
    [
        ({"from": "2024-13-01"}, "from", "YYYY-MM-DD"),
        ({"to": "yesterday"}, "to", "YYYY-MM-DD"),
        ({"from": "2025-02-01", "to": "2025-01-01"}, "from", "after"),
        ({"tag": "unicorn"}, "tag", "not a concept"),
        ({"tag": "x" * 101}, "tag", "100"),
        ({"kind": "sound"}, "kind", "image"),
        ({"owner": "theirs"}, "owner", "mine"),
        ({"flagged": "maybe"}, "flagged", "true"),
        ({"sort": "random"}, "sort", "relevance"),
        ({"page": "0"}, "page", "between"),
        ({"page": "x"}, "page", "integer"),
        ({"weaker": "sometimes"}, "weaker", "true"),
    ],
)
def test_bad_parameters_are_problems_naming_the_field(api, fake_services, params, field, needle):
    response = api.get(reverse("api:search"), {"q": "dog", **params})
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert body["field"] == field and needle in body["detail"]
    assert fake_services.index.calls == []  # nothing was searched


def test_filters_reach_every_channel_as_milvus_terms(api, alice, fake_services):
    response = api.get(
        reverse("api:search"),
        {
            "q": "dog",
            "kind": "image",
            "owner": "mine",
            "from": "2025-01-01",
            "to": "2025-01-31",
            "tag": "animal",
            "flagged": "false",
        },
    )
    assert response.status_code == 200
    channels = {call[0] for call in fake_services.index.calls}
    assert channels == {"semantic", "caption", "ocr"}
    filters = {call[3] for call in fake_services.index.calls}
    assert len(filters) == 1
    (f,) = filters
    assert isinstance(f, Filters)
    assert (f.kind, f.owner, f.tags, f.flagged) == ("image", "mine", (11,), False)
    assert f.created_to - f.created_from == 31 * 86400  # "to" includes its whole day
    expr = f.expr(alice.pk)
    assert f"owner_id == {alice.pk}" in expr and '(tag_ids like "% 11 %")' in expr


def test_default_filter_is_privacy_only(api, alice, fake_services):
    api.get(reverse("api:search"), {"q": "dog"})
    f = fake_services.index.calls[0][3]
    assert f.is_empty and f.expr(alice.pk) == f"(owner_id == {alice.pk} or is_public == true)"


def test_lexical_channels_explain_with_phrase_line_and_boxes(api, make_item, fake_services):
    item = make_item(title="shop")
    MediaItem.objects.filter(pk=item.pk).update(
        caption="Two dogs near a sign reading “BAKERY”.",
        caption_phrases=[
            {"start": 0, "end": 8, "kind": "concept", "boxes": [[0.1, 0.1, 0.5, 0.5]]}
        ],
        text_lines=[{"text": "BAKERY OPEN", "box": [0.2, 0.6, 0.8, 0.7], "score": 0.99}],
    )
    fake_services.index.ids = [item.pk]
    fake_services.index.text_ids = {"caption": [item.pk], "ocr": [item.pk]}
    fake_services.encoder.overrides["zebra"] = fake_services.encoder.embeddings[9]  # no concept
    fake_services.encoder.overrides["bakery"] = fake_services.encoder.embeddings[10]
    body = api.get(reverse("api:search"), {"q": "dog bakery zebra"}).json()
    (top,) = body["results"]
    by_name = {c["name"]: c for c in top["channels"]}
    assert set(by_name) == {"semantic", "caption", "ocr"}
    assert by_name["caption"]["text"] == "Two dogs"  # the phrase holding the first match
    assert by_name["caption"]["words"] == ["dog", "bakery"]
    assert by_name["caption"]["boxes"] == [[0.1, 0.1, 0.5, 0.5]]
    assert by_name["ocr"]["text"] == "BAKERY OPEN" and by_name["ocr"]["boxes"] == [
        [0.2, 0.6, 0.8, 0.7]
    ]
    assert by_name["ocr"]["words"] == ["bakery"]
    assert "zebra" in top["unmatched_words"] and "zebra" in body["unmatched_words"]
    assert "caption" in top["matched_words"]["dog"]
    assert top["matched_words"]["bakery"] == ["caption", "ocr"]
    assert "No evidence for: zebra" in top["justification"]
    # the stems were sent to the lexical channels, not the raw words
    terms = {call[0]: call[4] for call in fake_services.index.calls if len(call) == 5}
    assert terms == {"caption": "dog bakery zebra", "ocr": "dog bakery zebra"}


def test_weak_matches_are_hidden_until_asked_for(api, make_item, fake_services):
    strong = make_item(title="strong")  # concepts 3 and 5: the fake query is concept 3
    weak = make_item(title="weak", concept_ids=(7, 8), weights=(0.5, 0.5))
    fake_services.index.ids = [strong.pk, weak.pk]
    body = api.get(reverse("api:search"), {"q": "dog"}).json()
    assert [r["item"]["id"] for r in body["results"]] == [strong.pk]
    assert body["hidden"] == 1 and body["matched"] == 1 and body["cutoff"] == pytest.approx(0.3)
    assert body["results"][0]["relevance"] >= body["cutoff"]
    body = api.get(reverse("api:search"), {"q": "dog", "weaker": "true"}).json()
    assert [r["item"]["id"] for r in body["results"]] == [strong.pk, weak.pk]
    assert body["hidden"] == 0 and body["results"][1]["relevance"] < 0.3


def test_pages_are_disjoint_and_sort_by_date_is_newest_first(api, make_item, fake_services):
    items = [make_item(title=f"p{i}", appearance=np.eye(8)[i]) for i in range(5)]
    for n, item in enumerate(items):  # distinct creation days, oldest first
        MediaItem.objects.filter(pk=item.pk).update(
            created=dt.datetime(2025, 1, 1 + n, tzinfo=dt.UTC)
        )
    fake_services.index.ids = [i.pk for i in items]
    pages = [
        api.get(reverse("api:search"), {"q": "dog", "limit": 2, "page": p}).json()
        for p in (1, 2, 3)
    ]
    seen = [r["item"]["id"] for page in pages for r in page["results"]]
    assert sorted(seen) == sorted(i.pk for i in items) and len(seen) == 5
    assert [p["has_next"] for p in pages] == [True, True, False]
    by_date = api.get(reverse("api:search"), {"q": "dog", "sort": "date"}).json()
    assert [r["item"]["id"] for r in by_date["results"]] == [i.pk for i in reversed(items)]


def test_near_duplicates_are_grouped_under_the_first(api, make_item, fake_services):
    first = make_item(title="original", appearance=[1, 0, 0, 0, 0, 0, 0, 0])
    copy = make_item(title="copy", appearance=[0.99, 0.05, 0, 0, 0, 0, 0, 0])
    other = make_item(title="other", appearance=[0, 1, 0, 0, 0, 0, 0, 0])
    fake_services.index.ids = [first.pk, copy.pk, other.pk]
    body = api.get(reverse("api:search"), {"q": "dog"}).json()
    ids = [r["item"]["id"] for r in body["results"]]
    assert copy.pk not in ids and set(ids) == {first.pk, other.pk}
    grouped = {r["item"]["id"]: [d["id"] for d in r["duplicates"]] for r in body["results"]}
    assert sum(grouped.values(), []) == [copy.pk]


def test_find_similar_explains_shared_concepts_and_appearance(api, bob, make_item, fake_services):
    source = make_item(title="source", appearance=[1, 0, 0, 0, 0, 0, 0, 0])
    twin = make_item(title="twin", appearance=[0.8, 0.6, 0, 0, 0, 0, 0, 0])
    fake_services.index.ids = [source.pk, twin.pk]
    body = api.get(reverse("api:search-similar", args=[source.pk])).json()
    assert body["mode"] == "similar"
    (r,) = body["results"]  # the source itself is never its own match
    assert r["item"]["id"] == twin.pk and r["appearance"] == pytest.approx(0.8, abs=1e-4)
    assert {c["name"] for c in r["channels"]} == {"appearance", "concepts"}
    assert [c["concept"] for c in r["contributions"]] == ["concept <3>", "concept <5>"]
    assert r["justification"].startswith("Both show concept <3>, concept <5>")
    assert "appearance similarity 0.80" in r["justification"]
    assert {call[0] for call in fake_services.index.calls} == {"semantic", "appearance"}


def test_find_similar_from_an_invisible_item_is_404(api, bob, make_item, fake_services):
    private = make_item(owner=bob, visibility="private")
    response = api.get(reverse("api:search-similar", args=[private.pk]))
    assert response.status_code == 404 and response["Content-Type"] == PROBLEM
    assert response.json()["field"] == "item" and fake_services.index.calls == []


@pytest.mark.parametrize(
    "payload",
    [b"", b"not an image at all", jpeg()[:300], b"GIF89a" + b"\xff" * 40],
    ids=["empty", "not-an-image", "truncated-jpeg", "corrupt-gif"],
)
def test_query_by_image_validates_like_uploads(api, fake_services, payload):
    from django.core.files.uploadedfile import SimpleUploadedFile

    def post(url):
        upload = SimpleUploadedFile("q.jpg", payload, content_type="image/jpeg")
        return api.post(url, {"file": upload}, format="multipart")

    as_upload = post(reverse("api:media-list"))
    as_query = post(reverse("api:search-by-image"))
    assert as_upload.status_code in (400, 413, 415)
    assert as_query.status_code == as_upload.status_code, as_query.content
    assert as_query["Content-Type"] == PROBLEM and as_query.json()["field"] == "file"
    assert as_query.json()["type"] == as_upload.json()["type"]
    assert fake_services.index.calls == []


def test_query_by_image_over_the_size_limit_is_413(api, fake_services, settings, monkeypatch):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from glassbox import config

    monkeypatch.setenv("GLASSBOX_MAX_UPLOAD_BYTES", "1000")
    config.get_settings.cache_clear()
    try:
        upload = SimpleUploadedFile("q.jpg", jpeg(400, 300) + b"\0" * 2000)
        response = api.post(reverse("api:search-by-image"), {"file": upload}, format="multipart")
    finally:
        monkeypatch.delenv("GLASSBOX_MAX_UPLOAD_BYTES")
        config.get_settings.cache_clear()
    assert response.status_code == 413 and response.json()["field"] == "file"


def test_query_by_image_without_a_file_is_400(api, fake_services):
    response = api.post(reverse("api:search-by-image"), {}, format="multipart")
    assert response.status_code == 400 and response.json()["field"] == "file"


def test_search_page_keeps_filters_in_links_and_offers_weaker_matches(
    alice_web, make_item, fake_services
):
    strong = make_item(title="strong")
    weak = make_item(title="weak", concept_ids=(7, 8), weights=(0.5, 0.5))
    fake_services.index.ids = [strong.pk, weak.pk]
    html = alice_web.get(
        reverse("search:search"), {"q": "dog", "owner": "mine", "tag": "animal"}
    ).content.decode()
    assert 'data-testid="show-weaker"' in html and "1 weaker match hidden" in html
    assert "weaker=true" in html and "owner=mine" in html and "tag=animal" in html
    assert 'data-testid="why"' in html and 'data-channel="semantic"' in html
    assert f'href="?similar={strong.pk}"' in html
    assert 'value="animal"' in html  # the form keeps what was typed


def test_search_page_names_the_bad_field(alice_web, fake_services):
    response = alice_web.get(reverse("search:search"), {"q": "dog", "from": "32/13/2024"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "<strong>from:</strong>" in html and 'aria-invalid="true"' in html


def test_search_page_find_similar_and_item_page_link(alice_web, make_item, fake_services):
    source = make_item(title="source", appearance=[1, 0, 0, 0, 0, 0, 0, 0])
    twin = make_item(title="twin", appearance=[0.9, 0.43, 0, 0, 0, 0, 0, 0])
    fake_services.index.ids = [source.pk, twin.pk]
    detail = alice_web.get(reverse("media:detail", args=[source.pk])).content.decode()
    assert f"?similar={source.pk}" in detail and 'data-testid="find-similar"' in detail
    html = alice_web.get(reverse("search:search"), {"similar": source.pk}).content.decode()
    assert 'data-testid="similar-source"' in html and f'data-item-id="{twin.pk}"' in html
    assert 'data-channel="appearance"' in html


def test_engine_rejects_unknown_tag_before_encoding(alice, fake_services):
    with pytest.raises(engine.SearchQueryError) as err:
        engine.search(alice, "dog", filters=engine.SearchFilters(tag="unicorn"))
    assert err.value.field == "tag" and fake_services.encoder.calls == []


def test_search_page_query_by_image_shows_upload_errors(alice_web, fake_services):
    from django.core.files.uploadedfile import SimpleUploadedFile

    url = reverse("search:by-image")
    response = alice_web.post(url, {"file": SimpleUploadedFile("x.jpg", b"not an image")})
    assert response.status_code == 415
    html = response.content.decode()
    assert 'data-testid="search-error"' in html and "<strong>file:</strong>" in html
    assert alice_web.post(url, {}).status_code == 400
    assert alice_web.get(url).status_code == 405
    assert fake_services.index.calls == []


def test_search_page_needs_login_and_csrf_for_query_by_image(client, alice, fake_services):
    from django.test import Client

    assert client.get(reverse("search:search"), {"q": "dog"}).status_code in (302, 403)
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alice)
    assert strict.post(reverse("search:by-image"), {}).status_code == 403
