"""A worker that dies mid-task loses no item, and repeated tasks leave no duplicates.

Tasks are acknowledged late and rejected back to the queue when their worker process is
lost (``CELERY_TASK_ACKS_LATE``, ``CELERY_TASK_REJECT_ON_WORKER_LOST``), and analyse/index
write by the item's primary key, so a redelivered or repeated task is harmless.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from faults_support import ensure_running, rows_with_id, state, upload, wait_for, wait_ready
from glassbox_launch.process import http_ok, pid_alive, stop
from glassbox_web import runtime
from media import tasks
from media.models import MediaItem

pytestmark = pytest.mark.integration


def pool_children(worker_pid: int) -> list[int]:
    """The worker's pool processes: the children of its main process."""
    children: list[int] = []
    for task_dir in Path(f"/proc/{worker_pid}/task").iterdir():
        try:
            children += [int(p) for p in (task_dir / "children").read_text().split()]
        except OSError:
            continue
    return children


def tag_rows(item_id: int) -> list[tuple[int, str, int]]:
    return list(
        MediaItem.objects.get(pk=item_id)
        .tags.order_by("rank", "pk")
        .values_list("rank", "name", "concept_id")
    )


@pytest.fixture
def paused_triton(stack, triton_url):
    """Freeze Triton (SIGSTOP to its process group) so a running analysis blocks in its
    request; returns ``resume``. Triton is always resumed, and restarted if it is not ready."""
    svc = stack.triton()
    pid = svc.pid()
    assert pid is not None, "the session's Triton is not running"
    group = os.getpgid(pid)
    os.killpg(group, signal.SIGSTOP)

    def resume() -> None:
        os.killpg(group, signal.SIGCONT)

    try:
        yield resume
    finally:
        resume()
        ready = f"http://127.0.0.1:{stack.ports.triton}/v2/health/ready"
        deadline = time.monotonic() + 30
        while not http_ok(ready) and time.monotonic() < deadline:
            time.sleep(0.5)
        if not http_ok(ready):
            stop(svc, echo=lambda _m: None)
            ensure_running(svc)
        runtime.reset()


@pytest.mark.django_db(transaction=True)
def test_killing_the_pool_process_mid_analysis_redelivers_the_task_and_the_item_gets_ready(
    celery_worker, paused_triton, alice, samples
) -> None:
    main_pid = celery_worker.pid()
    assert main_pid is not None, "the session's worker is not running"
    (child,) = pool_children(main_pid)  # --concurrency 1

    item = upload(alice, samples / "dog.jpg")
    wait_for(
        lambda: state(item.pk)["status"] == MediaItem.Status.PROCESSING,
        30,
        "the worker to start analysing (it then blocks on the paused Triton)",
    )
    time.sleep(0.5)  # well inside the task: it waits for Triton's answer
    assert state(item.pk)["attempts"] == 1
    os.kill(child, signal.SIGKILL)
    wait_for(lambda: not pid_alive(child), 10, "the pool process to die")
    paused_triton()

    wait_ready(item.pk, 90, "after its worker process was killed (redelivered)")
    item.refresh_from_db()
    assert item.attempts >= 2  # the killed run, then the redelivered one
    assert item.failure_reason == ""
    assert item.tags.exists() and hasattr(item, "profile")
    assert rows_with_id(item.pk) == 1
    assert pid_alive(main_pid) and pool_children(main_pid), "the worker replaced its pool process"


@pytest.mark.django_db(transaction=True)
def test_analysing_and_indexing_an_item_twice_leaves_one_index_row_and_one_set_of_tags(
    celery_worker, alice, samples
) -> None:
    item = upload(alice, samples / "dog.jpg")
    tasks.analyze_media.delay(item.pk)  # a duplicate delivery, queued behind the first
    wait_ready(item.pk, 90, "after a duplicate delivery")
    first_tags = tag_rows(item.pk)
    assert first_tags and rows_with_id(item.pk) == 1

    # A redelivered message of a run that died after writing: the item is processing again.
    MediaItem.objects.filter(pk=item.pk).update(status=MediaItem.Status.PROCESSING)
    for _ in range(2):
        tasks.analyze_media(item.pk)  # in this process; each run also enqueues an index task
        tasks.index_media(item.pk)
    assert state(item.pk)["status"] == MediaItem.Status.READY

    # The worker picks up the enqueued index tasks meanwhile; the result never changes.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        assert rows_with_id(item.pk) == 1
        assert tag_rows(item.pk) == first_tags
        time.sleep(0.5)
    ranks = [rank for rank, _, _ in tag_rows(item.pk)]
    assert ranks == list(range(len(ranks)))
    assert state(item.pk)["status"] == MediaItem.Status.READY
