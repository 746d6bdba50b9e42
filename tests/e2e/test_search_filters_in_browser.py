"""In headless Chromium: search with filters, open "Why this result?" and see the heat map and
the matched channels; then run "Find similar" from an item page.

Real services: the live Django server, a Celery worker, Redis, Triton and Milvus Lite."""

from __future__ import annotations

import io
import time

import pytest
from django.test import Client
from media.models import MediaItem
from PIL import Image

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def half_size(path) -> bytes:
    image = Image.open(path).convert("RGB")
    out = io.BytesIO()
    image.resize((image.width // 2, image.height // 2)).save(out, format="JPEG", quality=75)
    return out.getvalue()


@pytest.fixture
def library(django_user_model, celery_worker, samples):
    user = django_user_model.objects.create_user("carol", password="carol-password-1")
    client = Client()
    client.force_login(user)
    files = {
        "dog": (samples / "dog.jpg").read_bytes(),
        "dog copy": half_size(samples / "dog.jpg"),
        "eagle": (samples / "eagle.jpg").read_bytes(),
    }
    for title, data in files.items():
        upload = io.BytesIO(data)
        upload.name = f"{title}.jpg"
        resp = client.post("/api/v1/media/", {"file": upload, "title": title})
        assert resp.status_code == 201, resp.content
    deadline = time.monotonic() + 180
    while MediaItem.objects.filter(owner=user).exclude(status="ready").exists():
        assert time.monotonic() < deadline, list(MediaItem.objects.values("title", "status"))
        time.sleep(0.5)
    return {item.title: item.pk for item in MediaItem.objects.filter(owner=user)}


def test_filtered_search_explains_and_find_similar_runs_from_the_item_page(
    page, log_in, live_server, library, tmp_path
):
    log_in(page, live_server.url, "carol", "carol-password-1")
    page.goto(f"{live_server.url}/search/")
    page.fill("#q", "dog")
    page.select_option("#f-owner", "mine")
    page.fill("#f-tag", "dog")
    page.click("#search-form button[type=submit]")
    page.wait_for_url("**/search/?q=dog*")
    assert "owner=mine" in page.url and "tag=dog" in page.url

    results = page.locator("[data-testid=result]")
    results.first.wait_for()
    ids = [int(results.nth(i).get_attribute("data-item-id")) for i in range(results.count())]
    assert library["eagle"] not in ids  # the tag filter keeps dogs only
    first = results.first
    # the half-size copy is grouped under the first result as a near-duplicate
    assert "near-duplicate" in first.locator("[data-testid=duplicates]").inner_text()
    assert first.locator("[data-testid=relevance]").inner_text().endswith("%")
    # "Why this result?" opens the evidence: channels, contributions, heat map over the photo
    why = first.locator("[data-testid=why]")
    assert not why.locator(".channel-list").is_visible()
    why.locator("summary").click()
    assert why.locator(".channel-list li[data-channel=semantic]").is_visible()
    assert "dog" in why.inner_text().lower()
    heatmap = first.locator("[data-testid=result-heatmap]")
    page.wait_for_function(
        "(img) => img.complete && img.naturalWidth > 0", arg=heatmap.element_handle()
    )
    assert heatmap.is_visible()
    page.screenshot(path=str(tmp_path / "filtered-search.png"))

    # an impossible filter says so instead of showing anything
    page.goto(f"{live_server.url}/search/?q=dog&owner=public")
    assert page.locator("[data-testid=no-results]").is_visible()
    page.goto(f"{live_server.url}/search/?q=dog&from=2024-99-01")
    assert "from" in page.locator("[data-testid=search-error]").inner_text()

    # find similar from the item page: the copy comes first, explained by appearance
    page.goto(f"{live_server.url}/media/{library['dog']}/")
    page.click("[data-testid=find-similar]")
    page.wait_for_url(f"**/search/?similar={library['dog']}")
    assert page.locator("[data-testid=similar-source]").is_visible()
    top = page.locator("[data-testid=result]").first
    top.wait_for()
    assert int(top.get_attribute("data-item-id")) == library["dog copy"]
    assert top.locator("[data-channel=appearance]").count() >= 1
    assert "appearance similarity" in top.locator("[data-testid=justification]").inner_text()
    page.screenshot(path=str(tmp_path / "find-similar.png"))
