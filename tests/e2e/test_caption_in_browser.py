"""End to end in headless Chromium: the grounded caption of an uploaded photo, with each phrase
a button that draws its evidence region over the image.

Real everything, as in test_upload_and_search_in_browser.py: the live Django server, a Celery
worker process, Redis, Triton and the Milvus Lite server started by tests/conftest.py.
"""

from __future__ import annotations

import os

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_caption_phrases_show_their_evidence_regions_on_the_image(
    page, member_uploads, celery_worker, samples, tmp_path
):
    member_uploads(page, "carol", samples / "dog.jpg", "Caption dog")
    # the page reloads with the caption; every phrase in it is a button
    caption = page.locator("p.caption[data-testid=caption]")
    phrases = caption.locator("button.phrase")
    phrases.first.wait_for(timeout=20_000)
    assert "dog" in caption.inner_text().lower()
    first = phrases.first
    index = first.get_attribute("data-phrase")
    region = page.locator(f'.stage .phrase-region[data-phrase="{index}"]').first
    assert region.is_hidden()

    # hovering shows the region, leaving hides it again
    first.hover()
    assert region.is_visible()
    page.mouse.move(5, 5)
    assert region.is_hidden()

    # a click pins it: visible, with a real size, inside the image
    first.click()
    assert first.get_attribute("aria-pressed") == "true"
    page.mouse.move(5, 5)
    assert region.is_visible()
    box = region.bounding_box()
    stage = page.locator("#stage img.original").bounding_box()
    assert box["width"] > 10 and box["height"] > 10
    assert stage["x"] - 1 <= box["x"] and box["x"] + box["width"] <= stage["x"] + stage["width"] + 1
    assert (
        stage["y"] - 1 <= box["y"] and box["y"] + box["height"] <= stage["y"] + stage["height"] + 1
    )
    page.screenshot(path=str(tmp_path / "caption.png"), full_page=True)
    shot_dir = os.environ.get("GLASSBOX_E2E_SCREENSHOTS")
    if shot_dir:
        page.screenshot(path=os.path.join(shot_dir, "caption-item.png"), full_page=True)

    # a second click unpins; the keyboard reaches the phrase and focus shows its region
    first.click()
    assert first.get_attribute("aria-pressed") == "false"
    page.mouse.move(5, 5)
    first.evaluate("el => el.blur()")
    assert region.is_hidden()
    first.focus()
    assert region.is_visible()
    page.keyboard.press("Enter")
    assert first.get_attribute("aria-pressed") == "true"
