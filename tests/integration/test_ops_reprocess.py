"""Reprocessing with the real worker (PostgreSQL, Redis, Celery, Triton, Milvus Lite): an item
analysed, then made "older" (its recorded analysis version set back), with a moderator's
decision on its flag, a title of its own and private visibility, is reprocessed through the
operators' API. It reaches the current fingerprint on the ``reprocess`` queue, its flag keeps
its decision, its title and visibility are unchanged, and search still finds it."""

from __future__ import annotations

import io
import re
import time

import pytest
from django.contrib.auth.models import Group
from glassbox.analysis.version import fingerprint
from glassbox.moderation import samples
from media import reprocess
from media.models import MediaItem, ReprocessRun
from moderation import actions as moderation_actions
from moderation.models import Flag
from rest_framework.test import APIClient

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def signed_in(django_user_model, name: str, role: str | None = None):
    user = django_user_model.objects.create_user(name, password=f"{name}-password-1")
    if role:
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    client = APIClient()
    client.force_authenticate(user)
    return client, user


def wait_for(predicate, what: str, deadline_s: float = 240):
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.5)
    pytest.fail(f"{what}: not after {deadline_s} s")


def searched(client: APIClient, query: str) -> list[int]:
    response = client.get("/api/v1/search/", {"q": query, "limit": 20})
    assert response.status_code == 200, response.content
    return [r["item"]["id"] for r in response.json()["results"]]


def test_reprocessing_an_older_item_brings_it_current_and_keeps_its_decisions(
    django_user_model, celery_worker
):
    owner, _ = signed_in(django_user_model, "reproc-owner")
    card = io.BytesIO(samples.render_card())
    card.name = "card.png"
    made = owner.post(
        "/api/v1/media/",
        {"file": card, "title": "My contact card", "visibility": "private"},
        format="multipart",
    )
    assert made.status_code == 201, made.content
    item_id = made.json()["id"]
    wait_for(
        lambda: MediaItem.objects.filter(pk=item_id, status="ready").exists(), "first analysis"
    )
    item = MediaItem.objects.get(pk=item_id)
    current = reprocess.current_versions()
    assert item.analysis_versions == current  # an upload records the versions that made it
    assert item.analysis_fingerprint == fingerprint(current)
    words = [w for line in item.text_lines for w in re.findall(r"[A-Za-z]{5,}", line["text"])]
    assert words, item.text_lines
    query = words[0]
    assert item_id in searched(owner, query)

    # made "older": analysed by a previous version of the analysis
    older = {**current, "analysis": "0.older"}
    MediaItem.objects.filter(pk=item_id).update(
        analysis_versions=older, analysis_fingerprint=fingerprint(older)
    )
    (flag,) = Flag.objects.filter(item_id=item_id, policy="personal-data")
    _, moderator = signed_in(django_user_model, "reproc-mod", "moderator")
    moderation_actions.decide(flag.pk, moderator, flag.version, "dismiss", "the shop's own card")
    decided = Flag.objects.get(pk=flag.pk)

    operator, _ = signed_in(django_user_model, "reproc-operator", "operator")
    listed = operator.get("/api/v1/ops/dashboard/").json()["reprocess"]
    assert listed["error"] is None, listed
    assert item_id in [i["id"] for i in listed["items"]]
    started = time.monotonic()
    response = operator.post("/api/v1/ops/reprocess/", {"ids": [item_id]}, format="json")
    assert response.status_code == 202, response.content
    run_id = response.json()["run"]["id"]

    def finished():
        section = operator.get("/api/v1/ops/dashboard/").json()["reprocess"]
        run = next(r for r in section["runs"] if r["id"] == run_id)
        return run if run["pending"] == 0 else None

    run = wait_for(finished, "the reprocess run")
    print(f"reprocessed 1 item in {time.monotonic() - started:.1f} s: {run}")
    assert (run["done"], run["failed"], run["total"]) == (1, 0, 1)
    assert ReprocessRun.objects.get(pk=run_id).finished is not None
    stored = MediaItem.objects.get(pk=item_id)
    assert stored.status == "ready" and stored.analysis_fingerprint == fingerprint(current)
    assert stored.analysis_versions == current
    assert stored.attempts == item.attempts + 1  # analysed once more
    assert (stored.title, stored.visibility) == ("My contact card", "private")
    (kept,) = Flag.objects.filter(item_id=item_id, policy="personal-data")
    assert kept.pk == flag.pk
    assert (kept.state, kept.decided_by_id) == ("dismissed", decided.decided_by_id)
    assert item_id in searched(owner, query)
    # nothing left to reprocess: the dashboard no longer lists it
    listed = operator.get("/api/v1/ops/dashboard/").json()["reprocess"]
    assert item_id not in [i["id"] for i in listed["items"]]
