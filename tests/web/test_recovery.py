"""Leases, the reaper and the index reconciler (media.lifecycle, media.recovery,
media.reconcile) against the test database, with the broker and the index faked.

The real worker, Redis and Milvus Lite are exercised by tests/integration/test_faults_*.py.
"""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from django.utils import timezone
from jobs.models import OutboxMessage
from media import leases, reconcile, recovery
from media.actions import commands, lifecycle
from media.actions.commands import ActionNotAllowed
from media.models import IndexCheck, MediaItem


def ago(seconds: float) -> dt.datetime:
    return timezone.now() - dt.timedelta(seconds=seconds)


def jobs() -> list[tuple[str, int]]:
    return sorted(OutboxMessage.objects.values_list("task", "item_id"))


@pytest.fixture
def queued(make_item):
    """A queued item with its analysis job already sent (the outbox is empty)."""
    item = make_item(ready=False)
    OutboxMessage.objects.all().delete()
    return item


@pytest.fixture
def broker_empty(monkeypatch):
    monkeypatch.setattr(recovery, "queue_length", lambda name: 0)


# -- leases ---------------------------------------------------------------------------------


def test_taking_an_item_leases_it_to_the_task(queued):
    item = lifecycle.begin_analysis(queued.pk, "task-1")
    assert item.status == "processing" and item.lease_owner == "task-1"
    assert timezone.now() < item.lease_expires <= lifecycle.lease_until() + dt.timedelta(seconds=1)


def test_a_duplicate_message_for_a_live_lease_is_dropped_but_a_redelivery_is_not(queued):
    assert lifecycle.begin_analysis(queued.pk, "task-1") is not None
    assert lifecycle.begin_analysis(queued.pk, "task-2") is None  # another task, lease alive
    assert lifecycle.begin_analysis(queued.pk, "task-1") is not None  # the same message again
    MediaItem.objects.filter(pk=queued.pk).update(lease_expires=ago(1))
    assert lifecycle.begin_analysis(queued.pk, "task-2").lease_owner == "task-2"


def test_a_failed_or_ready_item_is_not_taken(make_item):
    ready = make_item()
    failed = make_item(ready=False, status="failed")
    assert lifecycle.begin_analysis(ready.pk, "t") is None
    assert lifecycle.begin_analysis(failed.pk, "t") is None


@pytest.mark.django_db(transaction=True)  # the renewing thread has its own connection
def test_the_lease_is_renewed_while_the_work_goes_on(queued, settings):
    settings.RECOVERY = {**settings.RECOVERY, "LEASE_S": 1.5}
    lifecycle.begin_analysis(queued.pk, "task-1")
    first = MediaItem.objects.get(pk=queued.pk).lease_expires
    with leases.held(queued.pk, "task-1"):
        time.sleep(1.3)  # renewed every 0.5 s
    renewed = MediaItem.objects.get(pk=queued.pk).lease_expires
    assert renewed > first + dt.timedelta(seconds=0.5)


def test_renewing_someone_elses_lease_fails(queued):
    lifecycle.begin_analysis(queued.pk, "task-1")
    assert not lifecycle.renew_lease(queued.pk, "task-2")
    assert lifecycle.renew_lease(queued.pk, "task-1")


def test_storing_the_analysis_asks_for_indexing_in_the_same_transaction(
    queued, bank_embeddings, django_capture_on_commit_callbacks, monkeypatch
):
    from jobs import outbox

    from .conftest import fake_analysis

    monkeypatch.setattr(outbox, "send_now", lambda *a: False)  # the broker is "down"
    lifecycle.begin_analysis(queued.pk, "task-1")
    with django_capture_on_commit_callbacks(execute=True):
        assert lifecycle.record_analysis(queued.pk, fake_analysis(bank_embeddings))
    item = MediaItem.objects.get(pk=queued.pk)
    assert item.status == "processing" and item.lease_owner == lifecycle.index_owner(item.pk)
    assert jobs() == [("media.index", item.pk)]


# -- the reaper -----------------------------------------------------------------------------


def test_an_expired_lease_puts_the_item_back_in_the_queue(queued):
    lifecycle.begin_analysis(queued.pk, "dead-task")
    MediaItem.objects.filter(pk=queued.pk).update(lease_expires=ago(5))
    assert recovery.reap() == recovery.Reaped(requeued=1)
    item = MediaItem.objects.get(pk=queued.pk)
    assert item.status == "queued" and item.lease_owner == "" and item.interruptions == 1
    assert jobs() == [("media.analyze", item.pk)]


def test_a_live_lease_is_left_alone(queued):
    lifecycle.begin_analysis(queued.pk, "busy-task")
    assert recovery.reap() == recovery.Reaped()
    assert MediaItem.objects.get(pk=queued.pk).status == "processing" and jobs() == []


def test_a_lost_indexing_sends_the_indexing_not_the_analysis(
    queued, bank_embeddings, django_capture_on_commit_callbacks
):
    from .conftest import fake_analysis

    lifecycle.begin_analysis(queued.pk, "task-1")
    lifecycle.record_analysis(queued.pk, fake_analysis(bank_embeddings))
    OutboxMessage.objects.all().delete()  # the index job was sent, then its worker died
    MediaItem.objects.filter(pk=queued.pk).update(lease_expires=ago(5))
    assert recovery.reap() == recovery.Reaped(reindexed=1)
    item = MediaItem.objects.get(pk=queued.pk)
    assert item.status == "processing" and item.lease_expires > timezone.now()
    assert jobs() == [("media.index", item.pk)]


def test_an_item_that_loses_its_worker_too_often_fails_with_that_reason(queued, settings):
    settings.RECOVERY = {**settings.RECOVERY, "MAX_INTERRUPTIONS": 2}
    for n in range(3):
        lifecycle.begin_analysis(queued.pk, f"task-{n}")
        MediaItem.objects.filter(pk=queued.pk).update(lease_expires=ago(5))
        recovery.reap()
    item = MediaItem.objects.get(pk=queued.pk)
    assert item.status == "failed" and "interrupted 3 times" in item.failure_reason
    assert item.lease_expires is None


def test_a_queued_item_whose_message_was_lost_is_sent_again(queued, broker_empty):
    MediaItem.objects.filter(pk=queued.pk).update(updated=ago(3600))
    assert recovery.reap().resent == 1
    assert jobs() == [("media.analyze", queued.pk)]
    OutboxMessage.objects.all().delete()
    assert recovery.reap().resent == 0  # touched: not again before REQUEUE_AFTER_S


def test_a_queued_item_is_not_sent_again_while_the_queue_has_work_or_its_job_waits(
    queued, monkeypatch
):
    MediaItem.objects.filter(pk=queued.pk).update(updated=ago(3600))
    monkeypatch.setattr(recovery, "queue_length", lambda name: 4)  # a backlog: it is in there
    assert recovery.reap().resent == 0
    monkeypatch.setattr(recovery, "queue_length", lambda name: None)  # Redis down
    assert recovery.reap().resent == 0
    monkeypatch.setattr(recovery, "queue_length", lambda name: 0)
    OutboxMessage.objects.create(task="media.analyze", item_id=queued.pk)  # still to be sent
    assert recovery.reap().resent == 0
    assert jobs() == [("media.analyze", queued.pk)]


def test_a_recently_queued_item_is_not_sent_again(queued, broker_empty):
    assert recovery.reap().resent == 0


def test_retry_is_refused_while_the_worker_lives_and_allowed_once_its_lease_expired(
    queued, django_capture_on_commit_callbacks
):
    lifecycle.begin_analysis(queued.pk, "task-1")
    with pytest.raises(ActionNotAllowed):
        commands.retry_media(queued)
    MediaItem.objects.filter(pk=queued.pk).update(lease_expires=ago(5))
    with django_capture_on_commit_callbacks(execute=False):
        item = commands.retry_media(queued)
    assert item.status == "queued" and item.lease_owner == ""
    assert jobs() == [("media.analyze", queued.pk)]


def test_the_api_retries_an_item_whose_worker_was_lost(api, queued):
    lifecycle.begin_analysis(queued.pk, "task-1")
    url = f"/api/v1/media/{queued.pk}/retry/"
    assert api.post(url).status_code == 409
    MediaItem.objects.filter(pk=queued.pk).update(lease_expires=ago(5))
    response = api.post(url)
    assert response.status_code in (200, 202), response.content
    assert MediaItem.objects.get(pk=queued.pk).status == "queued"


def test_the_oldest_expired_lease_is_reported(queued):
    assert recovery.oldest_expired_lease() is None
    lifecycle.begin_analysis(queued.pk, "task-1")
    MediaItem.objects.filter(pk=queued.pk).update(lease_expires=ago(30))
    assert 29 < recovery.oldest_expired_lease() < 60


# -- the reconciler -------------------------------------------------------------------------


class MemoryIndex:
    """What the reconciler reads and writes of Milvus, in memory."""

    def __init__(self) -> None:
        self.rows: dict[int, dict] = {}
        self.writes: list[int] = []

    def upsert(self, rows) -> None:
        from glassbox.clients.milvus.schema import filter_values

        for row in rows:
            self.rows[row.id] = filter_values(row)
            self.writes.append(row.id)

    def delete(self, ids) -> None:
        for i in ids:
            self.rows.pop(int(i), None)

    def count(self, expr: str = "") -> int:
        return len(self.rows)

    def all_ids(self) -> list[int]:
        return sorted(self.rows)

    def shot_item_ids(self) -> set[int]:
        return set()

    def filter_fields(self, ids) -> dict[int, dict]:
        return {i: dict(self.rows[i]) for i in ids if i in self.rows}


@pytest.fixture
def index(fake_services) -> MemoryIndex:
    return MemoryIndex()


def test_items_marked_for_reindex_are_written_and_unmarked(make_item, index):
    item = make_item(visibility="private")
    MediaItem.objects.filter(pk=item.pk).update(visibility="public", needs_reindex=True)
    assert reconcile.resync_pending(index) == 1
    assert index.rows[item.pk]["is_public"] is True
    assert not MediaItem.objects.get(pk=item.pk).needs_reindex
    assert reconcile.resync_pending(index) == 0


def test_a_change_made_during_the_resync_keeps_its_mark(make_item, index, monkeypatch):
    item = make_item()
    MediaItem.objects.filter(pk=item.pk).update(needs_reindex=True)
    real_upsert = index.upsert

    def upsert_then_change(rows):
        real_upsert(rows)
        MediaItem.objects.filter(pk=item.pk).update(updated=timezone.now())  # a newer change

    monkeypatch.setattr(index, "upsert", upsert_then_change)
    reconcile.resync_pending(index)
    assert MediaItem.objects.get(pk=item.pk).needs_reindex


def test_the_consistency_check_repairs_missing_orphaned_and_stale_rows(make_item, index):
    kept, stale, missing = make_item(), make_item(), make_item()
    from media.indexing import index_row

    index.upsert([index_row(kept), index_row(stale)])
    index.rows[stale.pk]["is_public"] = True  # the index says public; the database, private
    index.rows[987654] = dict(index.rows[kept.pk])  # a deleted item's row
    assert reconcile.counts_differ(index) is False  # 3 rows, 3 items: only the ids tell
    found = reconcile.check_consistency(index, sample=10)
    assert found.missing == [missing.pk] and found.orphaned == [987654]
    assert found.mismatched == [stale.pk] and found.sampled == 2
    assert sorted(index.rows) == sorted([kept.pk, stale.pk, missing.pk])
    assert index.rows[stale.pk]["is_public"] is False
    check = IndexCheck.objects.get()
    assert not check.in_step and "1 missing, 1 orphaned" in check.summary
    again = reconcile.check_consistency(index, sample=10)
    assert again.in_step and reconcile.last_check()["in_step"] is True


def test_an_item_still_processing_keeps_its_row(make_item, index):
    from media.indexing import index_row

    item = make_item()
    index.upsert([index_row(item)])
    MediaItem.objects.filter(pk=item.pk).update(status="processing")  # written, not yet ready
    assert reconcile.check_consistency(index).orphaned == []
    assert item.pk in index.rows


def test_the_maintainer_runs_every_duty_once(make_item, index, monkeypatch, enqueued):
    from django.core.management import call_command
    from media.management.commands import maintain

    item = make_item()
    MediaItem.objects.filter(pk=item.pk).update(needs_reindex=True)
    OutboxMessage.objects.create(task="media.analyze", item_id=4242)
    monkeypatch.setattr(maintain, "index_from_settings", lambda cfg: _Closing(index))
    call_command("maintain", "--once")
    assert ("media.analyze", 4242) in enqueued and OutboxMessage.objects.count() == 0
    assert item.pk in index.rows and IndexCheck.objects.count() == 1


def test_a_failing_duty_is_logged_and_the_loop_goes_on(db, caplog):
    from glassbox.clients.milvus.errors import IndexUnavailable
    from media.management.commands.maintain import Duty

    calls = []

    def down():
        calls.append(1)
        raise IndexUnavailable("milvus is down")

    duty = Duty("reconciler", 30, down)
    duty(time.monotonic())
    assert calls == [1] and "milvus is down" in caplog.text
    assert not duty.due(time.monotonic()) and duty.due(time.monotonic() + 31)


class _Closing:
    def __init__(self, index) -> None:
        self._index = index

    def __getattr__(self, name):
        return getattr(self._index, name)

    def close(self) -> None:
        pass


def test_leases_thread_stops_with_the_block(queued):
    before = threading.active_count()
    lifecycle.begin_analysis(queued.pk, "task-1")
    with leases.held(queued.pk, "task-1"):
        assert threading.active_count() == before + 1
    assert threading.active_count() == before
