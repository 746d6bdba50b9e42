"""Text read in an image, end to end on the real services: the OCR lines are evidence with
boxes, the caption quotes them, and a text search finds the image through them, with the
read line as an exact term of the explanation."""

from __future__ import annotations

import io
import time

import pytest
from glassbox.tools.smoke.images import render_text
from PIL import Image
from rest_framework.test import APIClient

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def png(array) -> io.BytesIO:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    buf.seek(0)
    buf.name = "sign.png"
    return buf


@pytest.fixture
def client(django_user_model):
    django_user_model.objects.create_user("reader", password="reader-password-1")
    api = APIClient()
    api.login(username="reader", password="reader-password-1")
    return api


def wait_ready(client, item_id: int, deadline_s: float = 120) -> dict:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        item = client.get(f"/api/v1/media/{item_id}/").json()
        if item["status"] in ("ready", "failed"):
            return item
        time.sleep(0.5)
    pytest.fail(f"item {item_id} still pending")


def test_a_sign_is_read_quoted_in_the_caption_and_found_by_its_words(client, celery_worker):
    sign = render_text("BAKERY OPEN", size=(900, 260), font_px=90, origin=(40, 70))
    resp = client.post("/api/v1/media/", {"file": png(sign), "title": "sign"}, format="multipart")
    assert resp.status_code == 201, resp.content
    item = wait_ready(client, resp.json()["id"])
    assert item["status"] == "ready", item["failure_reason"]

    (line,) = [t for t in item["text_lines"] if "BAKERY" in t["text"].upper()]
    x0, y0, x1, y1 = line["box"]
    assert x0 < 0.2 and x1 > 0.3 and 0.1 < y0 < y1 < 0.9  # around the word, left of centre
    assert "BAKERY" in item["caption"]["text"].upper()
    text_phrases = [p for p in item["caption"]["phrases"] if p["kind"] == "text"]
    assert text_phrases and text_phrases[0]["boxes"]
    assert item["nsfw"] == []

    found = client.get("/api/v1/search/", {"q": "bakery"}).json()["results"]
    assert found and found[0]["item"]["id"] == item["id"]
    first = found[0]
    text_terms = [c for c in first["contributions"] if c["text_index"] is not None]
    assert text_terms and "BAKERY" in text_terms[0]["concept"].upper()
    assert text_terms[0]["value"] == max(c["value"] for c in first["contributions"])
    total = sum(c["value"] for c in first["contributions"])
    assert total == pytest.approx(first["score"], abs=1e-4)
    assert "t0:" in first["heatmap_url"]
    heat = client.get(first["heatmap_url"])
    assert heat.status_code == 200 and heat["Content-Type"] == "image/png"
