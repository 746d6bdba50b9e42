"""Text search through the API, with Triton and Milvus replaced by fakes (see conftest): the
query and parameters are checked (400 names the field), filters reach every channel as Milvus
terms, results are explained by channels and contributions, the cut-off hides weak matches,
pagination, sorting and near-duplicates."""

import datetime as dt

import numpy as np
import pytest
from django.urls import reverse
from glassbox.clients.milvus.errors import IndexUnavailable
from glassbox.clients.milvus.filters import Filters
from glassbox.clients.triton import InferenceUnavailable
from media.models import MediaItem
from search import engine
from search.params import SearchFilters, SearchOptions, SearchQueryError

PROBLEM = "application/problem+json"


@pytest.mark.parametrize(
    ("q", "needle"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("x" * 501, "500"),
        ("?!...", "punctuation"),
        ("-- ,;", "punctuation"),
    ],
)
def test_bad_query_is_a_problem_naming_q(api, fake_services, q, needle):
    response = api.get(reverse("api:search"), {"q": q})
    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert body["field"] == "q" and needle in body["detail"]
    assert fake_services.encoder.calls == []

@pytest.mark.parametrize("q", ["🐶", "dog 🐕", "  golden retriever  ", "x" * 500, "chien noir"])
def test_valid_queries_are_encoded_stripped(api, fake_services, q):
    response = api.get(reverse("api:search"), {"q": q})
    assert response.status_code == 200, response.content
    (call,) = fake_services.encoder.calls  # one request: the query, then its content words
    assert call[0] == q.strip()
    assert response.json()["query"] == q.strip()

def test_a_ten_thousand_character_query_is_refused_without_work(api, fake_services):
    response = api.get(reverse("api:search"), {"q": "dog " * 2500})
    assert response.status_code == 400 and response.json()["field"] == "q"
    assert "500" in response.json()["detail"] and fake_services.encoder.calls == []

@pytest.mark.parametrize("limit", ["0", "51", "x"])
def test_bad_limit_is_a_problem(api, fake_services, limit):
    response = api.get(reverse("api:search"), {"q": "dog", "limit": limit})
    assert response.status_code == 400 and response.json()["field"] == "limit"

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

def test_engine_rejects_unknown_tag_before_encoding(alice, fake_services):
    with pytest.raises(SearchQueryError) as err:
        engine.search(alice, "dog", SearchOptions(SearchFilters(tag="unicorn")))
    assert err.value.field == "tag" and fake_services.encoder.calls == []

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

def test_results_are_explained_and_rechecked_against_visibility(
    api, alice, bob, make_item, fake_services
):
    mine = make_item(title="mine")
    theirs_private = make_item(owner=bob, visibility="private")
    theirs_public = make_item(owner=bob, visibility="public", title="public")
    unfinished = make_item(ready=False)
    fake_services.index.ids = [theirs_private.pk, mine.pk, unfinished.pk, theirs_public.pk, 424242]
    response = api.get(reverse("api:search"), {"q": "dog", "limit": 5})
    assert response.status_code == 200
    body = response.json()
    assert [r["item"]["id"] for r in body["results"]] == [mine.pk, theirs_public.pk]
    assert fake_services.index.searches == [(engine.MIN_CANDIDATES, alice.pk)]
    top = body["results"][0]
    contributions = top["contributions"]
    assert contributions[0]["concept"] == "concept <3>" and contributions[0]["value"] > 0
    assert sum(c["value"] for c in contributions) == pytest.approx(
        float(fake_services.encoder.embeddings[3] @ mine.profile.vector_array()), abs=1e-4
    )
    assert f"/media/{mine.pk}/heatmap.png?c=3:" in top["heatmap_url"]
    assert top["justification"].startswith('Matches "dog"')
    assert "vector" not in response.content.decode()

def test_search_results_heatmap_url_is_servable(api, alice_web, make_item, fake_services):
    item = make_item()
    fake_services.index.ids = [item.pk]
    url = api.get(reverse("api:search"), {"q": "dog"}).json()["results"][0]["heatmap_url"]
    assert alice_web.get(url).status_code == 200

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

@pytest.mark.parametrize(
    "error", [InferenceUnavailable("triton down"), IndexUnavailable("milvus down")]
)
def test_unavailable_services_are_503_problems(api, monkeypatch, fake_services, error):
    def boom(*args, **kwargs):
        raise error

    monkeypatch.setattr(engine, "search", boom)
    response = api.get(reverse("api:search"), {"q": "dog"})
    assert response.status_code == 503
    assert response["Content-Type"] == PROBLEM and response.json()["status"] == 503
