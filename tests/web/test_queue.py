"""Jobs are sent by task name after commit (glassbox_web.queue); a broker that cannot be
reached is recorded on the item instead of losing the job silently."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from glassbox_web import queue
from kombu.exceptions import OperationalError as BrokerError
from media.actions import commands
from media.models import MediaItem

from .conftest import jpeg

REAL_SEND = queue.send  # the autouse ``enqueued`` fixture replaces queue.send in every test


def broker_down(monkeypatch):
    def refuse(name, item_id):
        raise BrokerError("connection refused")

    monkeypatch.setattr(queue, "send", refuse)


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


def test_an_upload_whose_analysis_cannot_be_queued_is_failed_with_a_reason(
    alice, monkeypatch, django_capture_on_commit_callbacks
):
    broker_down(monkeypatch)
    upload = SimpleUploadedFile("photo.jpg", jpeg(), content_type="image/jpeg")
    with django_capture_on_commit_callbacks(execute=True):
        item = commands.create_media(alice, upload)
    item.refresh_from_db()
    assert item.status == "failed"
    assert item.failure_reason == "The analysis queue is unavailable; retry later."


def test_a_visibility_change_that_cannot_be_queued_leaves_the_item_flagged_for_reindex(
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


def test_a_delete_whose_unindex_cannot_be_queued_still_deletes(
    api, make_item, monkeypatch, django_capture_on_commit_callbacks
):
    item = make_item()
    broker_down(monkeypatch)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.delete(reverse("api:media-detail", args=[item.pk]))
    assert response.status_code == 204 and not MediaItem.objects.filter(pk=item.pk).exists()
