"""Reprocessing (issue 13 §4): the versions each analysis records, the items analysed by
older versions, a run and its jobs, the claim of the reprocess task, its worker path, and the
dashboard's API (who may start a run, and what it refuses).

Triton and the concept bank are the fakes of ``tests/web/conftest.py`` (their versions are
``FAKE_MODEL_VERSIONS`` and ``FAKE_BANK_VERSION``); the run with the real worker, Triton and
Milvus is tests/integration/test_ops_reprocess.py.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone
from glassbox.analysis import version
from glassbox.clients.triton import InferenceUnavailable
from jobs.models import OutboxMessage
from media import recovery, reprocess, tasks
from media.actions import lifecycle
from media.models import MediaItem, ReprocessRun
from moderation import actions as moderation_actions
from moderation.models import Flag
from ops import dashboard
from rest_framework.test import APIClient

from .conftest import FAKE_BANK_VERSION, FAKE_MODEL_VERSIONS, fake_analysis
from .test_moderation_support import flagged_item, text_hit, with_role

ROLES = ("anonymous", "member", "moderator", "operator", "superuser")
URL = "/api/v1/ops/reprocess/"


def current() -> dict:
    return version.versions(FAKE_BANK_VERSION, FAKE_MODEL_VERSIONS)


def older() -> dict:
    return {**current(), "analysis": "0.older"}


def set_versions(item, recorded: dict | None) -> None:
    MediaItem.objects.filter(pk=item.pk).update(
        analysis_versions=recorded or {},
        analysis_fingerprint=version.fingerprint(recorded) if recorded else "",
    )
    item.refresh_from_db()


@pytest.fixture
def items(make_item, fake_services):
    """An up-to-date item, one of an older analysis, one that recorded no versions, and a
    failed one of an older analysis."""
    fresh, old, unversioned, failed = (make_item(title=t) for t in ("fresh", "old", "none", "f"))
    set_versions(fresh, current())
    set_versions(old, older())
    set_versions(failed, older())
    lifecycle.mark_failed(failed.pk, "broken")
    return {"fresh": fresh, "old": old, "none": unversioned, "failed": failed}


# --------------------------------------------------------------------------- what is outdated


def test_current_versions_come_from_triton_and_the_bank(fake_services):
    found = reprocess.current_versions()
    assert found == {
        "analysis": version.ANALYSIS_VERSION,
        "concept_bank": FAKE_BANK_VERSION,
        "models": {name: "1" for name in version.ANALYSIS_MODELS},
    }


def test_a_model_that_is_not_ready_makes_the_versions_unavailable(monkeypatch, fake_services):
    partial = {k: v for k, v in FAKE_MODEL_VERSIONS.items() if k != "ocr"}
    monkeypatch.setattr(fake_services.encoder, "model_versions", lambda: partial, raising=False)
    with pytest.raises(InferenceUnavailable, match="ocr"):
        reprocess.current_versions()


def test_outdated_lists_ready_items_of_other_or_no_versions(items):
    found = set(reprocess.outdated().values_list("id", flat=True))
    assert found == {items["old"].pk, items["none"].pk}  # not the fresh one, not the failed one


def test_a_new_model_version_makes_every_item_outdated(items, monkeypatch, fake_services):
    bumped = {**FAKE_MODEL_VERSIONS, "object_detection": "2"}
    monkeypatch.setattr(fake_services.encoder, "model_versions", lambda: bumped, raising=False)
    monkeypatch.setattr(reprocess, "_cached", None)
    found = set(reprocess.outdated().values_list("id", flat=True))
    assert found == {items["old"].pk, items["none"].pk, items["fresh"].pk}


# --------------------------------------------------------------------------- a run


def test_start_writes_one_job_per_outdated_item_and_none_for_an_up_to_date_one(
    items, alice, enqueued, django_capture_on_commit_callbacks
):
    asked = [items["fresh"].pk, items["old"].pk, items["failed"].pk, 987654]
    with django_capture_on_commit_callbacks(execute=False):
        run = reprocess.start(alice, ids=asked)
        jobs = set(OutboxMessage.objects.values_list("task", "item_id"))
    assert jobs == {(lifecycle.REPROCESS_TASK, items["old"].pk)}
    assert run.item_ids == [items["old"].pk] and run.total == 1
    assert run.target_fingerprint == version.fingerprint(current())
    assert run.requested_by == alice
    # the item stays ready (and searchable) until its own task claims it
    assert MediaItem.objects.get(pk=items["old"].pk).status == MediaItem.Status.READY


def test_start_all_takes_every_outdated_item_and_sends_the_jobs_after_commit(
    items, alice, enqueued, django_capture_on_commit_callbacks
):
    enqueued.clear()  # the uploads' own jobs
    with django_capture_on_commit_callbacks(execute=True):
        run = reprocess.start(alice)
    assert run.item_ids == sorted([items["old"].pk, items["none"].pk])
    assert sorted(enqueued) == sorted((lifecycle.REPROCESS_TASK, i) for i in run.item_ids)
    assert not OutboxMessage.objects.exists()  # sent, so deleted


def test_start_with_nothing_outdated_refuses(items, alice):
    with pytest.raises(reprocess.NothingToReprocess):
        reprocess.start(alice, ids=[items["fresh"].pk])
    assert not ReprocessRun.objects.exists()


def test_progress_counts_done_failed_and_pending_and_finishes_the_run(items, alice):
    run = reprocess.start(alice)
    old, none = items["old"], items["none"]
    assert reprocess.progress(run) == reprocess.Progress(2, 0, 0, 0, 2)
    set_versions(old, current())  # as the worker records it
    assert reprocess.progress(run) == reprocess.Progress(2, 1, 0, 0, 1)
    run.refresh_from_db()
    assert run.finished is None and run.done == 1
    lifecycle.mark_failed(none.pk, "broken")
    assert reprocess.progress(run) == reprocess.Progress(2, 1, 1, 0, 0)
    run.refresh_from_db()
    assert run.finished is not None and (run.done, run.failed) == (1, 1)


# --------------------------------------------------------------------------- the claim


def test_begin_reprocess_claims_a_ready_outdated_item_under_a_lease(items):
    target = version.fingerprint(current())
    before = items["old"].attempts
    item = lifecycle.begin_reprocess(items["old"].pk, "reprocess:t1", target)
    assert item is not None and item.status == MediaItem.Status.PROCESSING
    stored = MediaItem.objects.get(pk=items["old"].pk)
    assert stored.lease_owner == "reprocess:t1" and stored.lease_expires is not None
    assert stored.attempts == before + 1


def test_begin_reprocess_resumes_for_the_same_owner_and_refuses_another(items):
    target = version.fingerprint(current())
    assert lifecycle.begin_reprocess(items["old"].pk, "reprocess:t1", target) is not None
    assert lifecycle.begin_reprocess(items["old"].pk, "reprocess:t1", target) is not None
    assert lifecycle.begin_reprocess(items["old"].pk, "reprocess:t2", target) is None
    assert MediaItem.objects.get(pk=items["old"].pk).lease_owner == "reprocess:t1"


@pytest.mark.parametrize("case", ["fresh", "failed", "queued", "processing", "gone"])
def test_begin_reprocess_skips_everything_else(items, case):
    target = version.fingerprint(current())
    item = items["fresh"] if case == "fresh" else items["failed" if case == "failed" else "old"]
    if case in ("queued", "processing"):
        MediaItem.objects.filter(pk=item.pk).update(status=case, lease_owner="someone-else")
    item_id = 987654 if case == "gone" else item.pk
    before = MediaItem.objects.filter(pk=item_id).values("status", "lease_owner").first()
    assert lifecycle.begin_reprocess(item_id, "reprocess:t1", target) is None
    assert MediaItem.objects.filter(pk=item_id).values("status", "lease_owner").first() == before


# --------------------------------------------------------------------------- the worker's path


@pytest.fixture
def fake_pipeline(monkeypatch, bank_embeddings, fake_services):
    """The analysis the worker runs: new tags (concepts 4 and 6) and the personal-data hit."""
    calls = []

    def analyze(data, client, bank, cfg, policies=()):
        calls.append(len(data))
        found = fake_analysis(bank_embeddings, concept_ids=(4, 6), weights=(0.6, 0.4))
        return dataclasses.replace(found, flags=[text_hit(0.95)])

    monkeypatch.setattr(tasks.pipeline, "analyze", analyze)
    fake_services.index.upsert = lambda rows: None
    return calls


def test_the_reprocess_task_brings_an_item_to_the_current_versions_and_keeps_the_rest(
    make_user, bank_embeddings, fake_pipeline, enqueued, django_capture_on_commit_callbacks
):
    owner, moderator = make_user("owner"), with_role(make_user, "mod", "moderator")
    item = flagged_item(owner, bank_embeddings, [text_hit(0.9)], visibility="private")
    MediaItem.objects.filter(pk=item.pk).update(title="My own title")
    set_versions(item, older())
    (flag,) = Flag.objects.filter(item=item)
    moderation_actions.decide(flag.pk, moderator, flag.version, "dismiss", "a shop's card")
    decided = Flag.objects.get(pk=flag.pk)
    with django_capture_on_commit_callbacks(execute=True):
        tasks.reprocess_media.apply(args=[item.pk])
    assert (lifecycle.INDEX_TASK, item.pk) in enqueued  # through the outbox, as an upload's
    assert MediaItem.objects.get(pk=item.pk).status == MediaItem.Status.PROCESSING
    tasks.index_media.apply(args=[item.pk])
    stored = MediaItem.objects.get(pk=item.pk)
    assert fake_pipeline == [item.size_bytes]
    assert stored.status == MediaItem.Status.READY
    assert stored.analysis_versions == current()
    assert stored.analysis_fingerprint == version.fingerprint(current())
    assert sorted(stored.tags.values_list("concept_id", flat=True)) == [4, 6]  # the new analysis
    assert (stored.title, stored.visibility) == ("My own title", "private")
    (kept,) = Flag.objects.filter(item=item)
    assert kept.pk == flag.pk and kept.score == pytest.approx(0.95)  # updated by the analysis
    assert (kept.state, kept.decided_by_id) == (decided.state, decided.decided_by_id)
    assert kept.state == "dismissed"
    # a second message for it finds it up to date and does nothing
    tasks.reprocess_media.apply(args=[item.pk])
    assert fake_pipeline == [item.size_bytes]


def test_an_upload_records_the_current_versions(make_item, fake_pipeline, enqueued):
    item = make_item(ready=False)
    tasks.analyze_media.apply(args=[item.pk])
    stored = MediaItem.objects.get(pk=item.pk)
    assert stored.analysis_fingerprint == version.fingerprint(current())


def test_a_reprocess_that_never_claimed_its_item_does_not_fail_it(items, monkeypatch):
    def down():
        raise InferenceUnavailable("Triton is down")

    monkeypatch.setattr(reprocess, "current_versions", down)
    monkeypatch.setattr(tasks.reprocess_media, "max_retries", 0)
    tasks.reprocess_media.apply(args=[items["old"].pk])
    assert MediaItem.objects.get(pk=items["old"].pk).status == MediaItem.Status.READY


def test_the_reaper_gives_an_interrupted_reprocess_back_its_ready_state(
    items, enqueued, django_capture_on_commit_callbacks
):
    target = version.fingerprint(current())
    lifecycle.begin_reprocess(items["old"].pk, "reprocess:lost", target)
    later = timezone.now() + dt.timedelta(seconds=lifecycle.lease_s() + 5)
    with django_capture_on_commit_callbacks(execute=True):
        assert recovery.reap(later).requeued == 1
    stored = MediaItem.objects.get(pk=items["old"].pk)
    assert stored.status == MediaItem.Status.READY and stored.lease_owner == ""
    assert (lifecycle.REPROCESS_TASK, items["old"].pk) in enqueued


# --------------------------------------------------------------------------- the API


def client_for(make_user, role: str) -> tuple[APIClient, object]:
    client = APIClient()
    if role == "anonymous":
        return client, None
    user = make_user(f"{role}-user")
    if role == "superuser":
        user.is_superuser = True
        user.save()
    elif role != "member":
        user.groups.add(Group.objects.get(name=role))
    client.force_authenticate(user)
    return client, user


@pytest.mark.parametrize("role", ROLES)
def test_only_operators_and_admins_start_a_run(make_user, items, role):
    client, user = client_for(make_user, role)
    response = client.post(URL, {"ids": [items["old"].pk]}, format="json")
    if role in ("operator", "superuser"):
        assert response.status_code == 202, response.content
        run = response.json()["run"]
        assert (run["total"], run["pending"], run["done"]) == (1, 1, 0)
        assert ReprocessRun.objects.get(pk=run["id"]).item_ids == [items["old"].pk]
    else:
        assert response.status_code == (401 if user is None else 403)
        assert response["Content-Type"] == "application/problem+json"
        assert not ReprocessRun.objects.exists()


@pytest.mark.parametrize(
    "body",
    [{}, {"ids": []}, {"ids": [0]}, {"ids": ["x"]}, {"all": False}, {"ids": [1], "all": True}],
)
def test_a_malformed_request_is_a_400_problem(make_user, items, body):
    client, _ = client_for(make_user, "operator")
    response = client.post(URL, body, format="json")
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert not ReprocessRun.objects.exists()


def test_nothing_to_reprocess_is_a_409_problem(make_user, items):
    client, _ = client_for(make_user, "operator")
    response = client.post(URL, {"ids": [items["fresh"].pk]}, format="json")
    assert response.status_code == 409
    assert response.json()["type"].endswith("/nothing_to_reprocess")


def test_versions_that_cannot_be_read_are_a_503_problem(make_user, items, monkeypatch):
    def down():
        raise InferenceUnavailable("Triton is down")

    monkeypatch.setattr(reprocess, "current_versions", down)
    client, _ = client_for(make_user, "operator")
    response = client.post(URL, {"all": True}, format="json")
    assert response.status_code == 503
    assert response.json()["type"].endswith("/versions_unavailable")


def test_the_dashboard_lists_outdated_items_without_their_titles_and_the_runs(
    make_user, items, alice, monkeypatch
):
    for name in ("queue_section", "worker_section", "throughput_section", "milvus_section"):
        monkeypatch.setattr(dashboard, name, lambda: {"stand_in": True})
    monkeypatch.setattr(dashboard, "triton_section", lambda: {"models": []})
    reprocess.start(alice, ids=[items["old"].pk])
    client, _ = client_for(make_user, "operator")
    section = client.get("/api/v1/ops/dashboard/").json()["reprocess"]
    assert section["error"] is None, section
    assert section["count"] == 2
    assert section["current_fingerprint"] == version.fingerprint(current())
    listed = {i["id"]: i for i in section["items"]}
    assert set(listed) == {items["old"].pk, items["none"].pk}
    assert listed[items["old"].pk]["versions"]["analysis"] == "0.older"
    assert listed[items["none"].pk]["versions"] is None
    assert "title" not in listed[items["old"].pk]
    (run,) = section["runs"]
    assert (run["total"], run["pending"], run["current"]) == (1, 1, True)


def test_the_page_posts_with_the_csrf_token(make_user, client):
    _, user = client_for(make_user, "operator")
    client.force_login(user)
    html = client.get("/ops/").content.decode()
    assert 'data-reprocess-url="/api/v1/ops/reprocess/"' in html
    assert "csrfmiddlewaretoken" in html
