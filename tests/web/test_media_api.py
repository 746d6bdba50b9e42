from django.urls import reverse
from media.models import MediaItem


def test_item_detail_lists_tags_with_evidence_and_never_the_vector(api, make_item):
    item = make_item()
    response = api.get(reverse("api:media-detail", args=[item.pk]))
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready" and body["failure_reason"] == ""
    tag = body["tags"][0]
    evidence = {"box", "justification", "contributing_concepts", "heatmap_url"}
    assert set(tag) >= {"name", "wnid", "concept_id", "score"} | evidence
    assert tag["heatmap_url"].endswith(f"/media/{item.pk}/tags/{item.tags.first().pk}/heatmap.png")
    text = response.content.decode()
    for secret in ("vector", "appearance", "weights", '"cams"', "profile"):
        assert secret not in text


def test_owner_changes_visibility_and_reindex_is_enqueued(
    api, make_item, enqueued, django_capture_on_commit_callbacks
):
    item = make_item(visibility="private")
    enqueued.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = api.patch(
            reverse("api:media-detail", args=[item.pk]), {"visibility": "public"}, format="json"
        )
    assert response.status_code == 200 and response.json()["visibility"] == "public"
    item.refresh_from_db()
    assert item.visibility == "public" and item.needs_reindex
    assert enqueued == [("media.index", item.pk)]


def test_invalid_visibility_is_a_problem_naming_the_field(api, make_item):
    item = make_item()
    response = api.patch(
        reverse("api:media-detail", args=[item.pk]), {"visibility": "world"}, format="json"
    )
    assert response.status_code == 400 and response.json()["field"] == "visibility"


def test_owner_deletes_item_files_and_index_entry(
    api, make_item, enqueued, media_root, django_capture_on_commit_callbacks
):
    item = make_item()
    enqueued.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert api.delete(reverse("api:media-detail", args=[item.pk])).status_code == 204
    assert not MediaItem.objects.exists()
    assert [p for p in media_root.rglob("*") if p.is_file()] == []
    assert enqueued == [("media.unindex", item.pk)]


def test_retry_is_refused_unless_failed(api, make_item):
    item = make_item()
    response = api.post(reverse("api:media-retry", args=[item.pk]))
    assert response.status_code == 409
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["type"].endswith("not_failed")


def test_retry_of_failed_item_requeues_it(
    api, make_item, enqueued, django_capture_on_commit_callbacks
):
    item = make_item(ready=False, status="failed")
    MediaItem.objects.filter(pk=item.pk).update(failure_reason="boom")
    enqueued.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(reverse("api:media-retry", args=[item.pk]))
    assert response.status_code == 202
    assert response.json()["status"] == "queued" and response.json()["failure_reason"] == ""
    assert enqueued == [("media.analyze", item.pk)]


def test_list_is_paginated(api, make_item):
    make_item(ready=False)
    body = api.get(reverse("api:media-list")).json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["results"][0]["status"] == "queued"


def test_statuses_rejects_malformed_ids(api):
    response = api.get(reverse("api:media-statuses"), {"ids": "1,abc"})
    assert response.status_code == 400 and response.json()["field"] == "ids"


def test_unknown_item_is_a_problem_404(api):
    response = api.get(reverse("api:media-detail", args=[999999]))
    assert response.status_code == 404 and response["Content-Type"] == "application/problem+json"


def test_item_page_escapes_untrusted_text(alice_web, make_item):
    item = make_item(title="<img src=x onerror=alert(1)>")
    html = alice_web.get(reverse("media:detail", args=[item.pk])).content.decode()
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(3)&lt;/script&gt;" in html
    assert 'class="heatmap overlay"' in html and 'class="region overlay"' in html
    assert 'data-testid="status"' in html


def test_failed_item_page_shows_reason_and_retry(alice_web, make_item):
    item = make_item(ready=False, status="failed")
    MediaItem.objects.filter(pk=item.pk).update(failure_reason="The image data is corrupt.")
    html = alice_web.get(reverse("media:detail", args=[item.pk])).content.decode()
    assert "The image data is corrupt." in html and 'id="retry"' in html
