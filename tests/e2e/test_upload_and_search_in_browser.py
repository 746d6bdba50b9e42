"""End to end in headless Chromium: log in, upload a photo, watch it become ready, search for
it and see the explained result with its heat map.

Real everything: the live Django server (pytest-django), a Celery worker process, Redis,
Triton and the Milvus Lite server started for the session by tests/conftest.py.
"""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_member_uploads_the_dog_photo_and_finds_it_first_when_searching_dog(
    page, member_uploads, live_server, celery_worker, samples, tmp_path
):
    member_uploads(page, "alice", samples / "dog.jpg", "My dog")
    # the page reloads with its tags, each with a toggleable heat-map overlay
    page.wait_for_selector(".tag", timeout=20_000)
    first_tag = page.locator(".tag").first
    assert any(w in first_tag.inner_text().lower() for w in ("dog", "malamute", "husky"))
    overlay = page.locator(".stage img.heatmap").first
    assert overlay.is_hidden()
    first_tag.locator(".overlay-toggle").check()
    assert overlay.is_visible()

    page.goto(f"{live_server.url}/search/?q=dog")
    results = page.locator(".result")
    results.first.wait_for()
    first = results.first
    assert "My dog" in first.inner_text()
    heatmap = first.locator("img.heatmap")
    assert heatmap.count() == 1
    # the heat map image really loaded (a PNG served by the permission-checked view)
    page.wait_for_function(
        "(img) => img.complete && img.naturalWidth > 0", arg=heatmap.element_handle()
    )
    justification = first.locator(".justification").inner_text()
    assert "dog" in justification.lower()
    page.screenshot(path=str(tmp_path / "search.png"))
