"""Fault tolerance when the Milvus Lite server is down, and what survives its restart.

The session's Milvus is stopped inside a test and always started again in the fixture's
teardown. The indexing test runs against a worker whose retry backoff is capped at a few
seconds (``GLASSBOX_TASK_RETRY_BACKOFF_MAX_S``); the session's own worker is stopped
meanwhile and started again afterwards.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from glassbox.config import get_settings
from glassbox.index import IndexUnavailable, MediaIndex, _is_unavailable
from glassbox_launch.process import Service, port_in_use, start, stop
from glassbox_web import runtime
from glassbox_web.problems import PROBLEM_CONTENT_TYPE
from media import actions
from media.models import MediaItem
from rest_framework.test import APIClient

pytestmark = pytest.mark.integration

FAST_RETRIES = {"GLASSBOX_TASK_RETRY_BACKOFF_MAX_S": "4", "GLASSBOX_TASK_MAX_RETRIES": "60"}
ANSWER_WITHIN_S = 5.0  # "nothing hangs": well under any client or proxy timeout


def wait_for(predicate: Callable[[], object], timeout_s: float, what: str) -> object:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    pytest.fail(f"timed out after {timeout_s:.0f} s waiting for {what}", pytrace=False)


def ensure_running(svc: Service) -> None:
    """Start ``svc`` unless it runs; first wait for a just-stopped instance to free its ports."""
    if svc.pid() is None:
        deadline = time.monotonic() + 30
        while any(port_in_use(p) for p in svc.ports) and time.monotonic() < deadline:
            time.sleep(0.2)
    start(svc, echo=lambda _m: None)


def state(item_id: int) -> dict:
    return MediaItem.objects.values("status", "attempts", "failure_reason").get(pk=item_id)


def upload(owner, path) -> MediaItem:
    data = path.read_bytes()
    return actions.create_media(owner, SimpleUploadedFile(path.name, data, "image/jpeg"))


@pytest.fixture(scope="module")
def fast_retry_worker(celery_worker, stack):
    """The session's worker, restarted with a short retry backoff for this module."""
    session_env = dict(celery_worker.env)
    stop(celery_worker, echo=lambda _m: None)
    fast = stack.worker(extra_env={**session_env, **FAST_RETRIES})
    try:
        start(fast, echo=lambda _m: None)
        yield fast
    finally:
        stop(fast, echo=lambda _m: None)
        start(stack.worker(extra_env=session_env), echo=lambda _m: None)


@pytest.fixture
def milvus(stack, milvus_uri) -> Service:
    """The session's Milvus Lite server; whatever the test did to it, it runs again afterwards."""
    svc = stack.milvus()
    try:
        yield svc
    finally:
        ensure_running(svc)
        runtime.reset()  # no client of this process keeps a channel to the old server


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user("alice", "alice@example.test", "pw-123456!")


@pytest.fixture
def api(alice) -> APIClient:
    client = APIClient()
    client.force_authenticate(alice)
    return client


def rows_with_id(item_id: int) -> int:
    """How many rows of the media collection carry this id (a fresh client, flushed first)."""
    cfg = get_settings()
    index = MediaIndex(cfg.milvus_uri, cfg.milvus_collection, timeout=10.0)
    try:
        index.flush()
        found = index._call(
            lambda c: c.query(
                cfg.milvus_collection, filter=f"id == {int(item_id)}", output_fields=["count(*)"]
            )
        )
        return int(found[0]["count(*)"])
    finally:
        index.close()


def found_ids(api: APIClient, query: str) -> list[int]:
    response = api.get("/api/v1/search/", {"q": query, "limit": 50})
    assert response.status_code == 200, response.content
    return [result["item"]["id"] for result in response.json()["results"]]


@pytest.mark.django_db(transaction=True)
def test_while_milvus_is_down_search_answers_503_problem_and_health_names_milvus(
    milvus, api, redis_service, triton_url
) -> None:
    runtime.media_index()  # a cached client, as in a long-running web process
    stop(milvus, echo=lambda _m: None)

    started = time.monotonic()
    response = api.get("/api/v1/search/", {"q": "dog"})
    assert time.monotonic() - started < ANSWER_WITHIN_S
    assert response.status_code == 503
    assert response["Content-Type"].startswith(PROBLEM_CONTENT_TYPE)
    problem = response.json()
    assert problem["status"] == 503 and "search index" in problem["detail"]

    started = time.monotonic()
    health = APIClient().get("/api/v1/health/")
    assert time.monotonic() - started < ANSWER_WITHIN_S
    assert health.status_code == 503
    body = health.json()
    assert body["status"] == "degraded"
    assert body["checks"]["milvus"]["ok"] is False
    assert all(body["checks"][name]["ok"] for name in ("database", "redis", "triton")), body


@pytest.mark.django_db(transaction=True)
def test_indexing_retries_while_milvus_is_down_and_earlier_items_survive_its_restart(
    fast_retry_worker, milvus, stack, alice, api, samples
) -> None:
    before = upload(alice, samples / "dog.jpg")
    wait_for(
        lambda: state(before.pk)["status"] == MediaItem.Status.READY, 90, "the first item ready"
    )
    assert before.pk in found_ids(api, "dog")

    stop(milvus, echo=lambda _m: None)
    log = stack.log_dir / "worker.log"
    log_offset = log.stat().st_size
    during = upload(alice, samples / "eagle.jpg")

    def index_retried_twice():
        now = state(during.pk)
        assert now["status"] != MediaItem.Status.FAILED, f"failed while Milvus was down: {now}"
        with open(log, "rb") as fh:
            fh.seek(log_offset)
            retries = [
                line
                for line in fh.read().splitlines()
                if b"media.index[" in line and b"retry: Retry in" in line
            ]
        return len(retries) >= 2

    wait_for(index_retried_twice, 60, "the index task to be retried while Milvus is down")
    waiting = MediaItem.objects.get(pk=during.pk)
    assert waiting.status == MediaItem.Status.PROCESSING and waiting.failure_reason == ""
    assert waiting.analyzed_at is not None  # analysis went on; only indexing waits

    ensure_running(milvus)

    def ready():
        now = state(during.pk)
        assert now["status"] != MediaItem.Status.FAILED, f"failed after Milvus returned: {now}"
        return now["status"] == MediaItem.Status.READY

    wait_for(ready, 90, "the second item to become ready after Milvus returned")
    assert before.pk in found_ids(api, "dog")  # indexed before the restart, still found
    assert rows_with_id(before.pk) == 1
    assert rows_with_id(during.pk) == 1


def test_an_exception_chained_to_itself_is_classified_without_looping() -> None:
    """pymilvus raises errors whose ``__context__`` is the error itself."""
    exc = RuntimeError("Collection 'x' is in state 'released'; call load() first")
    exc.__context__ = exc
    assert _is_unavailable(exc) is False
    refused = ConnectionRefusedError("refused")
    refused.__context__ = refused
    assert _is_unavailable(refused) is True


def test_an_unreachable_milvus_fails_fast_as_unavailable(milvus, milvus_uri) -> None:
    stop(milvus, echo=lambda _m: None)
    index = MediaIndex(milvus_uri, get_settings().milvus_collection, timeout=10.0)
    started = time.monotonic()
    with pytest.raises(IndexUnavailable):
        index.search([0.0] * 383 + [1.0], limit=1, viewer_id=1)
    assert time.monotonic() - started < ANSWER_WITHIN_S
