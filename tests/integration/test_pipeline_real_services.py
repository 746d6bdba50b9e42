"""The whole pipeline through the API, on real services: PostgreSQL, Redis, a Celery worker,
Triton and the Milvus Lite server. Uploads the sample photos, waits for the worker, then checks
tags, evidence and explained search."""

from __future__ import annotations

import io
import time

import pytest
from PIL import Image
from rest_framework.test import APIClient

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

PHOTOS = ["dog.jpg", "eagle.jpg", "giraffe.jpg", "horses.jpg", "kite.jpg", "person.jpg"]


def wait_until_settled(client: APIClient, ids: list[int], deadline_s: float = 180) -> dict:
    deadline = time.monotonic() + deadline_s
    while True:
        items = {i: client.get(f"/api/v1/media/{i}/").json() for i in ids}
        if all(item["status"] in ("ready", "failed") for item in items.values()):
            return items
        if time.monotonic() > deadline:
            pytest.fail(f"items still pending after {deadline_s} s: {items}")
        time.sleep(0.5)


@pytest.fixture
def member(django_user_model):
    user = django_user_model.objects.create_user("member1", password="member-password-1")
    client = APIClient()
    token = client.post(
        "/api/v1/auth/token/", {"username": "member1", "password": "member-password-1"}
    ).json()["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return user, client


@pytest.fixture
def analysed(member, celery_worker, samples):
    _, client = member
    ids = {}
    for name in PHOTOS:
        with open(samples / name, "rb") as fh:
            resp = client.post("/api/v1/media/", {"file": fh, "title": name}, format="multipart")
        assert resp.status_code == 201, resp.content
        assert resp.json()["status"] == "queued"
        ids[name] = resp.json()["id"]
    items = wait_until_settled(client, list(ids.values()))
    return client, ids, items


def test_every_sample_photo_is_analysed_tagged_and_explained(analysed):
    client, ids, items = analysed
    assert {item["status"] for item in items.values()} == {"ready"}
    dog = items[ids["dog.jpg"]]
    assert not {"vector", "semantic_vector", "embedding", "profile"} & set(dog)
    tags = {t["name"]: t for t in dog["tags"]}
    # the breeds share the probability, so the classifier's tag is the broader "dog" they
    # carry; the object detector sees the dog too: one tag with both kinds of evidence
    top = tags["dog"]
    assert top["path"][0] == "animal" and top["source"] == "both", top
    assert top["detections"] and "object detector finds dog" in top["justification"]
    # what the classifier cannot name, the detector tags with its box and counterfactual
    bike = tags["bicycle"]
    assert bike["source"] == "detector" and bike["score"] > 0.9
    bx0, by0, bx1, by1 = bike["box"]
    assert bx0 < 0.5 < bx1 and by0 < 0.5 < by1  # the bicycle stands across the middle
    assert bike["faithfulness"]["detector"]["after"] < bike["faithfulness"]["detector"]["before"]
    assert "Masking the box drops" in bike["justification"]
    caption = dog["caption"]["text"].lower()
    assert "dog" in caption and "bicycle" in caption, caption
    assert {o["name"] for o in dog["objects"]} >= {"dog", "bicycle", "car"}
    carriers = top["contributing_concepts"]
    assert len(carriers) >= 2 and all(151 <= c["concept_id"] <= 268 for c in carriers)
    assert carriers[0]["name"] in top["justification"]
    leaf = next(t for t in dog["tags"] if 151 <= t["concept_id"] <= 268)
    assert leaf["path"] == ["animal", "dog"], leaf
    assert 0.0 < top["score"] <= 1.0
    x0, y0, x1, y1 = top["box"]
    assert 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1
    # the dog sits in the lower left quarter of dog.jpg: the region must overlap it
    assert x0 < 0.5 and y1 > 0.5
    assert top["name"] in top["justification"]
    heat = client.get(top["heatmap_url"])
    assert heat.status_code == 200 and heat["Content-Type"] == "image/png"
    img = Image.open(
        io.BytesIO(b"".join(heat.streaming_content) if heat.streaming else heat.content)
    )
    assert img.mode == "RGBA" and img.size[0] > 0


def test_searching_dog_returns_the_dog_photo_first_with_an_exact_explanation(analysed):
    client, ids, _ = analysed
    resp = client.get("/api/v1/search/", {"q": "dog", "limit": 6})
    assert resp.status_code == 200, resp.content
    results = resp.json()["results"]
    assert results[0]["item"]["id"] == ids["dog.jpg"]
    first = results[0]
    total = sum(c["value"] for c in first["contributions"])
    assert total == pytest.approx(first["score"], abs=1e-4)
    assert first["contributions"][0]["value"] > 0
    assert first["contributions"][0]["concept"].lower() in first["justification"].lower()
    assert client.get(first["heatmap_url"]).status_code == 200
    # an unrelated photo ranks below the dog
    scores = {r["item"]["id"]: r["score"] for r in results}
    assert scores[ids["dog.jpg"]] > scores.get(ids["kite.jpg"], -1)


def test_another_member_never_finds_private_photos(analysed, django_user_model):
    django_user_model.objects.create_user("intruder", password="intruder-password-1")
    other = APIClient()
    other.login(username="intruder", password="intruder-password-1")
    resp = other.get("/api/v1/search/", {"q": "dog"})
    assert resp.status_code == 200
    assert resp.json()["results"] == []


def test_health_reports_every_real_service_ok(celery_worker, django_user_model):
    public = APIClient().get("/api/v1/health/")
    assert public.status_code == 200 and public.json() == {"status": "ok"}
    operator = APIClient()  # the detail is for operators; a superuser holds every role
    operator.force_authenticate(django_user_model.objects.create_superuser("ops", "", "pw-1!"))
    resp = operator.get("/api/v1/health/detail/")
    body = resp.json()
    assert resp.status_code == 200, body
    assert set(body["checks"]) >= {"database", "redis", "triton", "milvus"}
    assert all(check["ok"] for check in body["checks"].values()), body
