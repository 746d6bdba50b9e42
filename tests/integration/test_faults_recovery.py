"""Nothing stuck, nothing out of sync: each fault while uploads are in flight, and the writes
made while Redis or Milvus is down (leases, the outbox, the reaper and the reconciler).

The module runs its own worker and maintainer (``manage.py maintain``) with short periods:
a 6 s lease, the reaper every second, the reconciler every 2 s and a consistency check every
5 s (``RECOVERY_FAST``), so each recovery is measured in seconds; the production defaults
(60 s lease, 10 s reaper, 30 s reconciler) scale these bounds by about ten.

After each fault the test asserts that every item in flight reaches ``ready``, that each has
exactly one row in Milvus, that search finds each exactly once, and that the time to recover
stays under a stated bound; it prints one line per fault (``FAULT ...``) with what it measured.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter

import pytest
from faults_support import (
    FAST_RETRIES,
    ensure_running,
    restored,
    rows_with_id,
    state,
    upload,
    wait_for,
)
from glassbox.clients.milvus.client import MediaIndex
from glassbox.config import get_settings
from glassbox_launch.process import pid_alive, start, stop
from glassbox_web import runtime
from media.actions import commands
from media.models import MediaItem
from rest_framework.test import APIClient

pytestmark = pytest.mark.integration

RECOVERY_FAST = {
    "GLASSBOX_LEASE_S": "6",
    "GLASSBOX_REAP_INTERVAL_S": "1",
    "GLASSBOX_REQUEUE_AFTER_S": "8",
    "GLASSBOX_OUTBOX_POLL_S": "0.5",
    "GLASSBOX_RECONCILE_INTERVAL_S": "2",
    "GLASSBOX_CONSISTENCY_INTERVAL_S": "5",
}
RECONCILER_BOUND_S = 30  # a write made during an outage reaches the index this soon after
READY_BOUND_S = 120  # every item in flight is ready this soon after the fault is over
QUIET = {"echo": lambda _m: None}


@pytest.fixture(scope="module")
def recovering(celery_worker, stack):
    """The session's worker replaced by one with fast retries and short leases, plus a
    maintainer with short periods; the session's worker runs again afterwards."""
    env = {**celery_worker.env, **FAST_RETRIES, **RECOVERY_FAST}
    stop(celery_worker, **QUIET)
    worker, maintainer = stack.worker(extra_env=env), stack.maintainer(extra_env=env)
    try:
        start(worker, **QUIET)
        start(maintainer, **QUIET)
        yield worker
    finally:
        stop(stack.maintainer(), **QUIET)
        stop(stack.worker(), **QUIET)
        start(stack.worker(extra_env=dict(celery_worker.env)), **QUIET)


def report(fault: str, items: list[int], recovered_s: float, bound_s: float) -> None:
    lost = [i for i in items if state(i)["status"] != MediaItem.Status.READY]
    duplicated = [i for i in items if rows_with_id(i) > 1]
    print(
        f"\nFAULT {fault}: in flight {len(items)}, lost {len(lost)}, duplicated "
        f"{len(duplicated)}, recovered in {recovered_s:.1f} s (bound {bound_s:.0f} s)"
    )


def all_ready(items: list[int], timeout_s: float, when: str) -> float:
    """Seconds until every item is ready (fails at once if one is marked failed)."""
    started = time.monotonic()

    def ready() -> bool:
        states = [state(i) for i in items]
        failed = [s for s in states if s["status"] == MediaItem.Status.FAILED]
        assert not failed, f"failed {when}: {failed}"
        return all(s["status"] == MediaItem.Status.READY for s in states)

    wait_for(ready, timeout_s, f"{len(items)} item(s) to become ready {when}")
    return time.monotonic() - started


def assert_indexed_once(owner, items: list[int]) -> None:
    """One Milvus row per item, and search (as its owner) lists each exactly once."""
    assert [rows_with_id(i) for i in items] == [1] * len(items)
    client = APIClient()
    client.force_authenticate(owner)
    response = client.get("/api/v1/search/", {"q": "dog", "limit": 50, "weaker": "true"})
    assert response.status_code == 200, response.content
    results = response.json()["results"]  # a near-duplicate is listed under its original
    found = Counter(i["id"] for r in results for i in [r["item"], *r["duplicates"]])
    assert all(found[i] == 1 for i in items), (items, found)


def fresh_index() -> MediaIndex:
    cfg = get_settings()
    return MediaIndex(cfg.milvus_uri, cfg.milvus_collection, timeout=10.0)


def indexed_visibility(item_id: int) -> bool | None:
    index = fresh_index()
    try:
        fields = index.filter_fields([item_id]).get(item_id)
        return None if fields is None else bool(fields["is_public"])
    finally:
        index.close()


def pool_children(worker_pid: int) -> list[int]:
    children: list[int] = []
    for task_dir in os.scandir(f"/proc/{worker_pid}/task"):
        try:
            with open(f"{task_dir.path}/children") as fh:
                children += [int(p) for p in fh.read().split()]
        except OSError:
            continue
    return children


def analysing(item_id: int) -> bool:
    return state(item_id)["status"] == MediaItem.Status.PROCESSING


@pytest.mark.django_db(transaction=True)
def test_killing_the_whole_worker_strands_nothing_the_lease_expires_and_the_item_completes(
    recovering, stack, alice, samples
) -> None:
    items = [upload(alice, samples / name).pk for name in ("dog.jpg", "kite.jpg")]
    wait_for(lambda: analysing(items[0]), 60, "the worker to take the first item")
    main = recovering.pid()
    assert main is not None
    victims = [main, *pool_children(main)]
    for pid in victims:
        os.kill(pid, signal.SIGKILL)  # the OOM killer or a lost node: no clean shutdown
    wait_for(lambda: not any(pid_alive(p) for p in victims), 10, "the worker to die")
    assert analysing(items[0])  # stranded, as before leases, until the lease expires
    stop(recovering, **QUIET)  # forget the dead worker's pid file
    start(recovering, **QUIET)  # a worker is available again
    back = time.monotonic()
    took = all_ready(items, READY_BOUND_S, "after the whole worker was killed")
    report("kill -9 the whole worker", items, time.monotonic() - back, READY_BOUND_S)
    assert took < READY_BOUND_S
    assert MediaItem.objects.get(pk=items[0]).interruptions >= 1
    assert_indexed_once(alice, items)


@pytest.mark.django_db(transaction=True)
def test_killing_the_pool_process_redelivers_and_nothing_is_duplicated(
    recovering, alice, samples
) -> None:
    items = [upload(alice, samples / name).pk for name in ("dog.jpg", "horses.jpg")]
    wait_for(lambda: analysing(items[0]), 60, "the worker to take the first item")
    (child,) = pool_children(recovering.pid())
    os.kill(child, signal.SIGKILL)
    killed = time.monotonic()
    took = all_ready(items, READY_BOUND_S, "after the pool process was killed")
    report("kill -9 the pool process", items, time.monotonic() - killed, READY_BOUND_S)
    assert took < READY_BOUND_S
    assert_indexed_once(alice, items)


@pytest.mark.django_db(transaction=True)
def test_a_redis_restart_loses_no_upload_visibility_change_or_delete(
    recovering, stack, alice, samples
) -> None:
    before = [upload(alice, samples / name).pk for name in ("dog.jpg", "eagle.jpg")]
    all_ready(before, READY_BOUND_S, "before the outage")
    shown, gone = before
    redis = stack.redis()
    with restored(redis):
        stop(redis, **QUIET)
        during = upload(alice, samples / "dog.jpg").pk  # answered, and kept queued
        assert state(during)["status"] == MediaItem.Status.QUEUED
        commands.set_visibility(MediaItem.objects.get(pk=shown), "public")
        commands.delete_media(MediaItem.objects.get(pk=gone))
        time.sleep(2)
        assert state(during)["status"] == MediaItem.Status.QUEUED  # not failed
        ensure_running(redis)
        back = time.monotonic()
        took = all_ready([during], READY_BOUND_S, "after Redis came back")
        wait_for(lambda: indexed_visibility(shown) is True, RECONCILER_BOUND_S, "public")
        wait_for(lambda: rows_with_id(gone) == 0, RECONCILER_BOUND_S, "the deleted row gone")
    report("restart Redis", [during, shown], time.monotonic() - back, READY_BOUND_S)
    assert took < READY_BOUND_S
    assert_indexed_once(alice, [during, shown])


@pytest.mark.django_db(transaction=True)
def test_writes_made_while_milvus_is_down_reach_the_index_once_it_is_back(
    recovering, stack, alice, samples
) -> None:
    before = [upload(alice, samples / name).pk for name in ("dog.jpg", "giraffe.jpg")]
    all_ready(before, READY_BOUND_S, "before the outage")
    shown, gone = before
    milvus = stack.milvus()
    with restored(milvus):
        stop(milvus, **QUIET)  # kill the Milvus Lite server
        during = upload(alice, samples / "dog.jpg").pk
        commands.set_visibility(MediaItem.objects.get(pk=shown), "public")
        commands.delete_media(MediaItem.objects.get(pk=gone))
        time.sleep(3)
        ensure_running(milvus)
        runtime.reset()
        back = time.monotonic()
        wait_for(lambda: indexed_visibility(shown) is True, RECONCILER_BOUND_S, "public")
        wait_for(lambda: rows_with_id(gone) == 0, RECONCILER_BOUND_S, "the deleted row gone")
        synced = time.monotonic() - back
        took = all_ready([during], READY_BOUND_S, "after Milvus came back")
    report("kill the Milvus Lite server", [during, shown], time.monotonic() - back, READY_BOUND_S)
    assert synced < RECONCILER_BOUND_S and took < READY_BOUND_S
    assert_indexed_once(alice, [during, shown])


@pytest.mark.django_db(transaction=True)
def test_uploads_during_a_triton_outage_complete_once_it_is_back(
    recovering, stack, alice, samples
) -> None:
    triton = stack.triton()
    with restored(triton):
        stop(triton, **QUIET)
        items = [upload(alice, samples / name).pk for name in ("dog.jpg", "person.jpg")]
        time.sleep(3)
        assert all(state(i)["status"] != MediaItem.Status.FAILED for i in items)
        ensure_running(triton)
        runtime.reset()
        back = time.monotonic()
        took = all_ready(items, READY_BOUND_S, "after Triton came back")
    report("stop Triton", items, time.monotonic() - back, READY_BOUND_S)
    assert took < READY_BOUND_S
    assert_indexed_once(alice, items)


@pytest.mark.django_db(transaction=True)
def test_a_queued_item_whose_message_was_lost_is_sent_again(recovering, alice, samples) -> None:
    """A message lost by the broker (here: the queue is emptied behind the app's back) is
    found by the reaper once the item has waited REQUEUE_AFTER_S with an empty queue."""
    import redis as redis_client
    from django.conf import settings

    broker = redis_client.Redis.from_url(settings.CELERY_BROKER_URL)
    stop(recovering, **QUIET)  # nothing takes the message before it is lost
    try:
        item = upload(alice, samples / "dog.jpg").pk
        wait_for(lambda: broker.llen("analyze") > 0, 10, "the message in the queue")
        broker.delete("analyze")
    finally:
        start(recovering, **QUIET)
        broker.close()
    lost = time.monotonic()
    took = all_ready([item], READY_BOUND_S, "after its message was lost")
    report("lose a queued message", [item], time.monotonic() - lost, READY_BOUND_S)
    assert took < READY_BOUND_S


@pytest.mark.django_db(transaction=True)
def test_killing_the_worker_mid_video_resumes_from_its_checkpoint_without_duplicates(
    recovering, stack, alice
) -> None:
    """vtest.avi (80 s, one shot in 8 keyframe windows): the worker is killed after some
    windows are analysed; the video completes once a worker is back, the windows analysed
    before the kill are not analysed again, and no shot row or index row is duplicated."""
    from pathlib import Path

    from django.core.files import File
    from media.models import Shot

    path = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
    if not path.exists():
        pytest.fail(f"{path} is missing: run `infra/bin/setup --test` (Debian opencv-doc)")
    with path.open("rb") as fh:
        upload = File(fh, name=path.name)
        upload.size = path.stat().st_size
        item = commands.create_media(alice, upload, "vtest")

    def some_windows_done() -> bool:
        return Shot.objects.filter(item=item, analyzed_at__isnull=False).count() >= 2

    wait_for(some_windows_done, 300, "two windows of the video to be analysed")
    main = recovering.pid()
    victims = [main, *pool_children(main)]
    for pid in victims:
        os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not any(pid_alive(p) for p in victims), 10, "the worker to die")
    done_before = dict(
        Shot.objects.filter(item=item, analyzed_at__isnull=False).values_list(
            "index", "analyzed_at"
        )
    )
    windows_before = Shot.objects.filter(item=item).count()
    stop(recovering, **QUIET)
    start(recovering, **QUIET)
    back = time.monotonic()
    took = all_ready([item.pk], 600, "after the worker was killed mid-video")
    report("kill -9 the worker mid-video", [item.pk], time.monotonic() - back, 600)
    rows = list(Shot.objects.filter(item=item).order_by("index"))
    assert len(rows) == windows_before and [r.index for r in rows] == list(range(len(rows)))
    for index, stamp in done_before.items():  # checkpointed windows were not redone
        assert rows[index].analyzed_at == stamp
    index = fresh_index()
    try:
        index.flush()
        stored = index._call(
            lambda c: c.query(
                index.collection, filter=f"item_id == {item.pk}", output_fields=["shot"]
            )
        )
    finally:
        index.close()
    assert sorted(r["shot"] for r in stored) == [-1, *range(len(rows))]
    assert took < 600
