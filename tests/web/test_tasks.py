"""Task life-cycle with the pipeline and index faked; the real worker runs in integration."""

from types import SimpleNamespace

import pytest
from glassbox.clients.triton import InferenceError
from glassbox.media.imaging import InvalidMedia
from glassbox_web import runtime
from media import tasks

from .conftest import fake_analysis


@pytest.fixture
def fake_pipeline(monkeypatch, bank_embeddings, fake_services):
    calls = []
    upserts = []

    def analyze(data, client, bank, settings, policies=None):
        calls.append(len(data))
        return fake_analysis(bank_embeddings)

    monkeypatch.setattr(tasks.pipeline, "analyze", analyze)
    fake_services.index.upsert = lambda rows: upserts.extend(rows)
    fake_services.index.delete = lambda ids: None
    return SimpleNamespace(calls=calls, upserts=upserts)


def test_analysis_stores_evidence_then_indexing_marks_ready(
    make_item, fake_pipeline, enqueued, django_capture_on_commit_callbacks
):
    item = make_item(ready=False)
    enqueued.clear()
    with django_capture_on_commit_callbacks(execute=True):
        tasks.analyze_media.apply(args=[item.pk])
    item.refresh_from_db()
    assert item.status == "processing" and item.attempts == 1
    assert item.tags.count() == 2 and item.profile.concept_ids == [3, 5]
    assert enqueued == [("media.index", item.pk)]
    tasks.index_media.apply(args=[item.pk])
    item.refresh_from_db()
    assert item.status == "ready" and "index_ms" in item.timings and "pipeline_ms" in item.timings
    (row,) = fake_pipeline.upserts
    assert row.id == item.pk and row.owner_id == item.owner_id and row.is_public is False


def test_analysis_of_a_gone_or_ready_item_is_a_quiet_no_op(make_item, fake_pipeline):
    tasks.analyze_media.apply(args=[987654])
    item = make_item(ready=True)
    tasks.analyze_media.apply(args=[item.pk])
    assert fake_pipeline.calls == []


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (
            InvalidMedia("truncated", "The image file is truncated; upload it again.", 400),
            "truncated",
        ),
        (InferenceError("bad tensor"), "rejected"),
        (RuntimeError("kaboom"), "Analysis failed: internal error (RuntimeError)."),
    ],
)
def test_final_failures_mark_the_item_failed_with_a_reason(
    monkeypatch, make_item, fake_services, error, reason
):
    def analyze(*args, **kwargs):
        raise error

    monkeypatch.setattr(tasks.pipeline, "analyze", analyze)
    item = make_item(ready=False)
    tasks.analyze_media.apply(args=[item.pk])
    item.refresh_from_db()
    assert item.status == "failed" and reason in item.failure_reason


def test_unindex_of_a_deleted_item_calls_the_index(db, monkeypatch):
    deleted = []
    monkeypatch.setattr(runtime, "media_index", lambda: SimpleNamespace(delete=deleted.extend))
    tasks.unindex_media.apply(args=[5])
    assert deleted == [5]


def test_a_stale_unindex_of_an_item_that_still_exists_removes_nothing(make_item, monkeypatch):
    item = make_item()
    deleted = []
    monkeypatch.setattr(runtime, "media_index", lambda: SimpleNamespace(delete=deleted.extend))
    tasks.unindex_media.apply(args=[item.pk])
    assert deleted == []


def test_tasks_are_routed_to_their_queues():
    from glassbox_web.celery import app

    routes = app.conf.task_routes
    assert routes["media.analyze"]["queue"] == "analyze"
    assert routes["media.index"]["queue"] == "index"
    assert app.conf.task_acks_late and app.conf.task_reject_on_worker_lost
    assert app.conf.worker_prefetch_multiplier == 1


@pytest.mark.parametrize("message", ["database is locked", "server closed the connection"])
def test_a_locked_or_lost_database_is_retried_like_an_unavailable_service(
    monkeypatch, settings, make_item, fake_services, message
):
    from django import db

    calls = []

    def analyze(*args, **kwargs):
        calls.append(1)
        raise db.OperationalError(message)

    monkeypatch.setattr(tasks.pipeline, "analyze", analyze)
    item = make_item(ready=False)
    # Run eagerly, Celery re-runs a retried task at once, up to max_retries, then gives up.
    tasks.analyze_media.apply(args=[item.pk])
    assert len(calls) == tasks.analyze_media.max_retries + 1
    item.refresh_from_db()
    assert "database was unavailable" in item.failure_reason
