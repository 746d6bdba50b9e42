"""Search v2 end to end on real services (PostgreSQL, Redis, a Celery worker, Triton and the
Milvus Lite server): photos go through the worker, then text search, filters, the OCR channel,
near-duplicates, find similar, query by image, visibility changes and deletes are checked
through the API."""

from __future__ import annotations

import datetime as dt
import io
import time

import pytest
from glassbox.clients.milvus.client import from_settings
from glassbox.config import get_settings
from PIL import Image, ImageDraw, ImageFont
from rest_framework.test import APIClient
from test_pipeline_real_services import wait_until_settled

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

FONT = "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf"


def sign(text: str) -> bytes:
    image = Image.new("RGB", (640, 240), "white")
    ImageDraw.Draw(image).text((40, 80), text, fill="black", font=ImageFont.truetype(FONT, 72))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def half_size_copy(path) -> bytes:
    image = Image.open(path).convert("RGB")
    out = io.BytesIO()
    image.resize((image.width // 2, image.height // 2)).save(out, format="JPEG", quality=70)
    return out.getvalue()


def login(django_user_model, name: str) -> tuple:
    user = django_user_model.objects.create_user(name, password=f"{name}-password-1")
    client = APIClient()
    token = client.post(
        "/api/v1/auth/token/", {"username": name, "password": f"{name}-password-1"}
    ).json()["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return user, client


def wait_for(check, deadline_s: float = 60) -> None:
    deadline = time.monotonic() + deadline_s
    while not check():
        if time.monotonic() > deadline:
            pytest.fail("the index did not catch up in time")
        time.sleep(0.5)


def ids_of(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [r["item"]["id"] for r in response.json()["results"]]


@pytest.fixture
def library(django_user_model, celery_worker, samples):
    _, client = login(django_user_model, "searcher")
    uploads = {
        "dog": (samples / "dog.jpg").read_bytes(),
        "dog copy": half_size_copy(samples / "dog.jpg"),
        "eagle": (samples / "eagle.jpg").read_bytes(),
        "horses": (samples / "horses.jpg").read_bytes(),
        "bakery sign": sign("BAKERY OPEN"),
    }
    ids = {}
    for title, data in uploads.items():
        upload = io.BytesIO(data)
        upload.name = f"{title}.jpg"
        resp = client.post("/api/v1/media/", {"file": upload, "title": title}, format="multipart")
        assert resp.status_code == 201, resp.content
        ids[title] = resp.json()["id"]
    items = wait_until_settled(client, list(ids.values()))
    assert {i["status"] for i in items.values()} == {"ready"}, items
    return client, ids, samples


def test_text_search_channels_filters_duplicates_and_similar(library, django_user_model):
    client, ids, samples = library

    # text: the dog first, its half-size copy grouped under it, the heat map servable
    body = client.get("/api/v1/search/", {"q": "dog"}).json()
    first = body["results"][0]
    assert first["item"]["id"] in (ids["dog"], ids["dog copy"])
    grouped = {first["item"]["id"], *(d["id"] for d in first["duplicates"])}
    assert grouped == {ids["dog"], ids["dog copy"]}
    assert first["relevance"] >= body["cutoff"] and "semantic" in [
        c["name"] for c in first["channels"]
    ]
    assert client.get(first["heatmap_url"]).status_code == 200
    assert ids["bakery sign"] not in ids_of(client.get("/api/v1/search/", {"q": "dog"}))

    # a colour and an object: "red bicycle" finds the dog photo (its bicycle's red frame is
    # the box's accent colour), explained by the bicycle's box
    body = client.get("/api/v1/search/", {"q": "red bicycle"}).json()
    top = body["results"][0]
    assert top["item"]["id"] in (ids["dog"], ids["dog copy"]), body
    semantic = next(c for c in top["channels"] if c["name"] == "semantic")
    assert {"red", "bicycle"} <= set(semantic["words"]) and semantic["boxes"], semantic

    # the OCR channel finds the sign by its word, with the line and its box as evidence
    body = client.get("/api/v1/search/", {"q": "bakery"}).json()
    top = body["results"][0]
    assert top["item"]["id"] == ids["bakery sign"], body
    ocr = next(c for c in top["channels"] if c["name"] == "ocr")
    assert "BAKERY" in ocr["text"].upper() and ocr["words"] == ["bakery"]
    (box,) = ocr["boxes"]
    assert 0 <= box[0] < box[2] <= 1 and 0 <= box[1] < box[3] <= 1

    # a word with no evidence anywhere is reported as unmatched
    body = client.get("/api/v1/search/", {"q": "dog qwzxv", "weaker": "true"}).json()
    assert body["unmatched_words"] == ["qwzxv"]

    # filters run in Milvus: a tag from the hierarchy, owner, kind, flagged, dates
    animals = ids_of(client.get("/api/v1/search/", {"q": "animal", "tag": "dog", "weaker": "true"}))
    assert animals and set(animals) <= {ids["dog"], ids["dog copy"]}
    bird = ids_of(client.get("/api/v1/search/", {"q": "animal", "tag": "bird", "weaker": "true"}))
    assert bird == [ids["eagle"]]
    assert ids_of(client.get("/api/v1/search/", {"q": "dog", "owner": "public"})) == []
    assert ids_of(client.get("/api/v1/search/", {"q": "dog", "kind": "video"})) == []
    assert ids_of(client.get("/api/v1/search/", {"q": "dog", "flagged": "true"})) == []
    assert ids_of(client.get("/api/v1/search/", {"q": "dog", "flagged": "false"}))
    today = dt.date.today()
    assert (
        ids_of(client.get("/api/v1/search/", {"q": "dog", "to": str(today - dt.timedelta(days=2))}))
        == []
    )
    assert ids_of(
        client.get("/api/v1/search/", {"q": "dog", "from": str(today - dt.timedelta(days=1))})
    )
    bad = client.get("/api/v1/search/", {"q": "dog", "tag": "qwzxv"})
    assert bad.status_code == 400 and bad.json()["field"] == "tag"

    # find similar: the copy first, as a near-duplicate, explained by shared concepts
    body = client.get(f"/api/v1/search/similar/{ids['dog']}/").json()
    top = body["results"][0]
    assert top["item"]["id"] == ids["dog copy"] and top["appearance"] >= 0.9
    assert "near-duplicate" in top["justification"] and top["contributions"]
    assert ids["dog"] not in ids_of(client.get(f"/api/v1/search/similar/{ids['dog']}/"))

    # query by image: the uploaded photo finds its stored copies
    upload = io.BytesIO(half_size_copy(samples / "dog.jpg"))
    upload.name = "query.jpg"
    body = client.post("/api/v1/search/by-image/", {"file": upload}, format="multipart").json()
    top = body["results"][0]  # the stored copy, with the original grouped under it
    assert {top["item"]["id"], *(d["id"] for d in top["duplicates"])} == {
        ids["dog"],
        ids["dog copy"],
    }
    assert body["mode"] == "similar" and top["appearance"] >= 0.9


def test_visibility_and_deletes_reach_search(library, django_user_model):
    client, ids, _ = library
    _, other = login(django_user_model, "neighbour")
    assert ids["eagle"] not in ids_of(other.get("/api/v1/search/", {"q": "bird", "weaker": "true"}))

    assert (
        client.patch(f"/api/v1/media/{ids['eagle']}/", {"visibility": "public"}).status_code == 200
    )
    wait_for(
        lambda: (
            ids["eagle"]
            in ids_of(
                other.get("/api/v1/search/", {"q": "bird", "owner": "public", "weaker": "true"})
            )
        )
    )
    assert (
        client.patch(f"/api/v1/media/{ids['eagle']}/", {"visibility": "private"}).status_code == 200
    )
    wait_for(
        lambda: (
            ids["eagle"]
            not in ids_of(other.get("/api/v1/search/", {"q": "bird", "weaker": "true"}))
        )
    )
    # the owner still finds it, and loses it once deleted
    assert ids["eagle"] in ids_of(client.get("/api/v1/search/", {"q": "bird", "weaker": "true"}))
    index = from_settings(get_settings())
    assert index.vectors([ids["eagle"]])
    assert client.delete(f"/api/v1/media/{ids['eagle']}/").status_code == 204
    assert ids["eagle"] not in ids_of(
        client.get("/api/v1/search/", {"q": "bird", "weaker": "true"})
    )
    wait_for(lambda: not index.vectors([ids["eagle"]]))  # its vectors left Milvus too
    index.close()
