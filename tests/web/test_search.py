import pytest
from django.urls import reverse
from glassbox.index import IndexUnavailable
from glassbox.inference import InferenceUnavailable
from glassbox_web import runtime
from search import engine

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


def test_search_page_renders_results_with_overlay_and_escapes(alice_web, make_item, fake_services):
    item = make_item(title="<b>bold</b>")
    fake_services.index.ids = [item.pk]
    html = alice_web.get(reverse("search:search"), {"q": "<script>x</script>"}).content.decode()
    assert (
        'class="result"' in html
        and 'class="heatmap overlay"' in html
        and 'class="justification"' in html
    )
    assert "<script>x</script>" not in html and "<b>bold</b>" not in html
    assert "concept &lt;3&gt;" in html


def test_search_page_shows_validation_error(alice_web, fake_services):
    response = alice_web.get(reverse("search:search"), {"q": "!!!"})
    assert response.status_code == 400 and b"punctuation" in response.content


def test_search_page_when_inference_is_down(alice_web, monkeypatch):
    def down():
        raise InferenceUnavailable("down")

    monkeypatch.setattr(runtime, "inference_client", down)
    response = alice_web.get(reverse("search:search"), {"q": "dog"})
    assert response.status_code == 503 and b"unavailable" in response.content
