"""Reprocessing with the real worker (PostgreSQL, Redis, Celery, Triton, Milvus Lite): an item
analysed, then made "older" (its recorded analysis version set back), with a moderator's
decision on its flag, a title of its own and private visibility, is reprocessed through the
operators' API. It reaches the current fingerprint on the ``reprocess`` queue, its flag keeps
its decision, its title and visibility are unchanged, and search still finds it."""

from __future__ import annotations

import io
import re
import time
from pathlib import Path

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


def test_new_uploads_go_before_reprocessing(celery_worker, stack, django_user_model, samples):
    """Two items wait on the ``reprocess`` queue, then a photo is uploaded, all while the
    worker (one process, on analyze, reprocess and index) is stopped. When it starts, the
    upload is analysed first: kombu takes a worker's queues in the order given."""
    import redis
    from django.conf import settings
    from faults_support import upload
    from faults_support import wait_for as wait_until
    from glassbox_launch.process import start, stop

    owner = django_user_model.objects.create_user("priority-owner", password="owner-password-1")
    earlier = [upload(owner, samples / name) for name in ("eagle.jpg", "giraffe.jpg")]
    ids = [i.pk for i in earlier]
    wait_until(
        lambda: MediaItem.objects.filter(pk__in=ids, status="ready").count() == 2,
        240,
        "the first analyses",
    )
    current = reprocess.current_versions()
    older = {**current, "analysis": "0.older"}
    MediaItem.objects.filter(pk__in=ids).update(
        analysis_versions=older, analysis_fingerprint=fingerprint(older)
    )
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    stop(celery_worker, echo=lambda _m: None)
    log = Path(celery_worker.log_file)
    offset = log.stat().st_size if log.exists() else 0
    try:
        reprocess.start(owner, ids)
        wait_until(lambda: broker.llen("reprocess") == 2, 60, "two reprocess messages queued")
        newcomer = upload(owner, samples / "horses.jpg")
        wait_until(lambda: broker.llen("analyze") == 1, 60, "the upload's message queued")
    finally:
        start(stack.worker(extra_env=celery_worker.env), echo=lambda _m: None)

    target = fingerprint(current)
    wait_until(
        lambda: (
            MediaItem.objects.filter(pk=newcomer.pk, status="ready").exists()
            and MediaItem.objects.filter(pk__in=ids, analysis_fingerprint=target).count() == 2
        ),
        300,
        "the upload and both reprocessed items",
    )
    with open(log, "rb") as fh:
        fh.seek(offset)
        text = fh.read().decode("utf-8", "replace")
    order = [int(m) for m in re.findall(r"media (\d+) analysed", text)]
    assert set(order) >= {newcomer.pk, *ids}, order
    assert order.index(newcomer.pk) < min(order.index(i) for i in ids), order
