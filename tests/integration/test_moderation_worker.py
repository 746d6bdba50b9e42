"""Moderation with the real worker (PostgreSQL, Redis, Celery, Triton, Milvus Lite): the
rendered contact card (glassbox.moderation.samples) uploaded through the API is read by the
``ocr`` model and flagged by the default ``personal-data`` policy; the worker stores the flag
row with its evidence (the read lines and their boxes) in the analysis' transaction, the
moderator's queue lists it with its evidence image, and confirming it takes the item out of
everyone else's view and out of the public index."""

from __future__ import annotations

import io
import time

import pytest
from django.contrib.auth.models import Group
from glassbox.moderation import samples
from glassbox_web import runtime
from moderation.models import AuditEvent, Flag
from PIL import Image
from rest_framework.test import APIClient

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def wait_settled(client: APIClient, item_id: int, deadline_s: float = 240) -> dict:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        item = client.get(f"/api/v1/media/{item_id}/").json()
        if item["status"] in ("ready", "failed"):
            return item
        time.sleep(0.5)
    pytest.fail(f"item {item_id} still pending after {deadline_s} s")


def signed_in(django_user_model, name: str, role: str | None = None) -> APIClient:
    user = django_user_model.objects.create_user(name, password=f"{name}-password-1")
    if role:
        # get_or_create: a transactional test before this one emptied the tables, groups too
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    client = APIClient()
    client.force_authenticate(user)
    return client


def card_png() -> io.BytesIO:
    make = getattr(samples, "personal_data_card", None) or samples.render_card
    buf = io.BytesIO(make())
    buf.name = "card.png"
    return buf


def test_the_rendered_card_is_flagged_with_its_read_lines_as_evidence(
    django_user_model, celery_worker
):
    owner = signed_in(django_user_model, "cardowner")
    made = owner.post(
        "/api/v1/media/", {"file": card_png(), "visibility": "public"}, format="multipart"
    )
    assert made.status_code == 201, made.content
    item = wait_settled(owner, made.json()["id"])
    assert item["status"] == "ready", item["failure_reason"]

    flags = list(Flag.objects.filter(item_id=item["id"]))
    assert [f.policy for f in flags] == ["personal-data"], [f.rule for f in flags]
    (flag,) = flags
    assert flag.state == "pending" and flag.score >= 0.5
    kinds = {e["label"] for e in flag.evidence}
    assert {"phone", "email"} <= kinds, flag.evidence
    for e in flag.evidence:  # the read line and its box, inside the image
        assert e["kind"] == "text" and e["text"]
        x0, y0, x1, y1 = e["box"]
        assert 0.0 <= x0 < x1 <= 1.0 and 0.0 <= y0 < y1 <= 1.0
    phone = next(e for e in flag.evidence if e["label"] == "phone")
    assert "7946" in phone["text"] and "phone number" in flag.rule
    assert flag.counterfactual is not None and flag.counterfactual["text"]
    assert AuditEvent.objects.filter(flag=flag, action="flag.created", actor=None).exists()
    print(f"card: {flag.score:.2f} hide={flag.hide} {flag.rule} | {flag.counterfactual['text']}")
    # the owner sees why
    block = item["moderation"]
    assert block["under_review"] and block["flags"][0]["rule"] == flag.rule
    assert block["hidden"] == flag.hide

    # the moderator's queue has it, with its evidence image
    moderator = signed_in(django_user_model, "cardmod", "moderator")
    queue = moderator.get("/api/v1/moderation/flags/").json()["results"]
    (listed,) = [f for f in queue if f["id"] == flag.pk]
    assert listed["evidence"][0]["box"] and listed["rule"] == flag.rule
    image = moderator.get(listed["image_url"])
    assert image.status_code == 200 and Image.open(io.BytesIO(image.content)).size == (
        item["width"],
        item["height"],
    )

    # confirmed: restricted to its owner, in the database and in the index
    done = moderator.post(
        f"/api/v1/moderation/flags/{flag.pk}/decide/",
        {"version": listed["version"], "decision": "confirm", "reason": "a phone number"},
        format="json",
    )
    assert done.status_code == 200, done.content
    stranger = signed_in(django_user_model, "cardstranger")
    assert stranger.get(f"/api/v1/media/{item['id']}/").status_code == 404
    index = runtime.media_index()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # the outbox's re-index, sent to the worker
        fields = index.filter_fields([item["id"]]).get(item["id"]) or {}
        if fields.get("is_public") is False:
            break
        time.sleep(0.5)
    assert fields.get("is_public") is False and fields.get("flagged") is True, fields


def test_the_sample_photos_raise_no_flag(django_user_model, celery_worker, samples):
    owner = signed_in(django_user_model, "photographer")
    ids = []
    for name in ("dog.jpg", "eagle.jpg", "giraffe.jpg", "horses.jpg", "kite.jpg", "person.jpg"):
        with open(samples / name, "rb") as fh:
            made = owner.post("/api/v1/media/", {"file": fh, "title": name}, format="multipart")
        assert made.status_code == 201, made.content
        ids.append(made.json()["id"])
    for item_id in ids:
        item = wait_settled(owner, item_id)
        assert item["status"] == "ready", item["failure_reason"]
    raised = list(Flag.objects.filter(item_id__in=ids).values_list("item__title", "rule"))
    assert raised == []
