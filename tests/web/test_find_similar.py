"""Find similar (from an item) and query by image through the API, with Triton and Milvus
replaced by fakes (see conftest): shared concepts and appearance explain a match, and an
uploaded query image is checked like an upload."""

import pytest
from django.urls import reverse

from .conftest import jpeg

PROBLEM = "application/problem+json"


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
