"""Jobs go through the transactional outbox (jobs.outbox): written with the change they
follow, sent after commit when the broker answers, and kept and sent later when it does not.
Nothing is failed or lost because the broker is down."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from glassbox_web import queue
from jobs import outbox
from jobs.models import OutboxMessage
from kombu.exceptions import OperationalError as BrokerError
from media.actions import commands
from media.models import MediaItem

from .conftest import jpeg

REAL_SEND = queue.send  # the autouse ``enqueued`` fixture replaces queue.send in every test


@pytest.fixture(autouse=True)
def broker_fresh(monkeypatch):
    """Every test starts with a broker not known to have failed in this process."""
    monkeypatch.setattr(outbox, "_broker_failed_at", -1e9)


def broker_down(monkeypatch):
    def refuse(name, item_id):
        raise BrokerError("connection refused")

    monkeypatch.setattr(queue, "send", refuse)


def jobs() -> list[tuple[str, int]]:
    return list(OutboxMessage.objects.values_list("task", "item_id"))


def test_a_job_is_sent_by_name_with_the_id_only(monkeypatch):
    sent = []
    fake_app = SimpleNamespace(send_task=lambda name, args: sent.append((name, args)))
    monkeypatch.setattr(queue, "app", fake_app)
    REAL_SEND("media.analyze", 7)
    assert sent == [("media.analyze", [7])]


@pytest.mark.parametrize(
    ("name", "queue_name"),
    [("media.analyze", "analyze"), ("media.index", "index"), ("media.unindex", "index")],
)
def test_a_job_sent_by_name_is_routed_to_its_queue(name, queue_name):
    route = queue.app.amqp.router.route({}, name)
    assert route["queue"].name == queue_name


def test_a_job_is_written_with_its_change_and_deleted_once_sent(
    alice, enqueued, django_capture_on_commit_callbacks
):
    upload = SimpleUploadedFile("photo.jpg", jpeg(), content_type="image/jpeg")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        item = commands.create_media(alice, upload)
        assert jobs() == [("media.analyze", item.pk)]  # in the transaction, before any send
    assert enqueued == []
    for callback in callbacks:
        callback()
    assert enqueued == [("media.analyze", item.pk)] and jobs() == []


def test_an_upload_while_the_broker_is_down_stays_queued_and_is_sent_when_it_returns(
    alice, enqueued, monkeypatch, django_capture_on_commit_callbacks
):
    broker_down(monkeypatch)
    upload = SimpleUploadedFile("photo.jpg", jpeg(), content_type="image/jpeg")
    with django_capture_on_commit_callbacks(execute=True):
        item = commands.create_media(alice, upload)
    item.refresh_from_db()
    assert item.status == "queued" and item.failure_reason == ""
    (row,) = OutboxMessage.objects.all()
    assert row.attempts == 1 and "connection refused" in row.last_error
    assert row.available_at > timezone.now()  # backed off, not hammering the broker

    assert outbox.dispatch_pending() == outbox.Dispatched(0, 0)  # not due yet
    monkeypatch.setattr(queue, "send", lambda name, item_id: enqueued.append((name, item_id)))
    OutboxMessage.objects.update(available_at=timezone.now() - dt.timedelta(seconds=1))
    assert outbox.dispatch_pending() == outbox.Dispatched(1, 0)
    assert enqueued == [("media.analyze", item.pk)] and jobs() == []


def test_the_dispatcher_keeps_what_it_could_not_send_and_sends_the_rest_later(
    db, monkeypatch, enqueued
):
    for item_id in (1, 2, 3):
        outbox.enqueue("media.analyze", item_id)
    calls = []

    def flaky(name, item_id):
        calls.append(item_id)
        if item_id == 2:
            raise BrokerError("broker went away")
        enqueued.append((name, item_id))

    monkeypatch.setattr(queue, "send", flaky)
    OutboxMessage.objects.update(available_at=timezone.now() - dt.timedelta(seconds=1))
    result = outbox.dispatch_pending()
    assert result.sent == 1 and result.waiting == 2 and "went away" in result.error
    assert sorted(i for _, i in jobs()) == [2, 3]
    monkeypatch.setattr(queue, "send", lambda name, item_id: enqueued.append((name, item_id)))
    OutboxMessage.objects.update(available_at=timezone.now() - dt.timedelta(seconds=1))
    assert outbox.dispatch_pending().sent == 2
    assert [i for _, i in enqueued] == [1, 2, 3] and jobs() == []


def test_one_job_waits_per_task_and_item(db, enqueued):
    outbox.enqueue("media.index", 5)
    outbox.enqueue("media.index", 5)
    outbox.enqueue("media.unindex", 5)
    assert sorted(jobs()) == [("media.index", 5), ("media.unindex", 5)]


def test_a_visibility_change_while_the_broker_is_down_is_kept_for_the_index(
    api, make_item, monkeypatch, django_capture_on_commit_callbacks
):
    item = make_item(visibility="private")
    broker_down(monkeypatch)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.patch(
            reverse("api:media-detail", args=[item.pk]), {"visibility": "public"}, format="json"
        )
    assert response.status_code == 200
    assert MediaItem.objects.get(pk=item.pk).needs_reindex
    assert jobs() == [("media.index", item.pk)]


def test_a_delete_while_the_broker_is_down_still_deletes_and_keeps_the_unindex_job(
    api, make_item, monkeypatch, django_capture_on_commit_callbacks
):
    item = make_item()
    broker_down(monkeypatch)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.delete(reverse("api:media-detail", args=[item.pk]))
    assert response.status_code == 204 and not MediaItem.objects.filter(pk=item.pk).exists()
    assert jobs() == [("media.unindex", item.pk)]


def test_after_a_failed_send_requests_do_not_wait_on_the_broker(
    alice, monkeypatch, django_capture_on_commit_callbacks
):
    tries = []

    def refuse(name, item_id):
        tries.append(item_id)
        raise BrokerError("connection refused")

    monkeypatch.setattr(queue, "send", refuse)
    for _ in range(3):
        upload = SimpleUploadedFile("photo.jpg", jpeg(), content_type="image/jpeg")
        with django_capture_on_commit_callbacks(execute=True):
            commands.create_media(alice, upload)
    assert len(tries) == 1 and OutboxMessage.objects.count() == 3
