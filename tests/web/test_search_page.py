"""The search page: results with their evidence (heat-map overlay, channels, justification),
escaping, errors naming the field, links that keep the query and filters, find similar and
query by image from the page."""

from django.urls import reverse
from glassbox.clients.triton import InferenceUnavailable
from glassbox_web import runtime


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
