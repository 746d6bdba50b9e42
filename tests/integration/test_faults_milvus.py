"""Fault tolerance when the Milvus Lite server is down, and what survives its restart.

The session's Milvus is stopped inside a test and always started again in the fixture's
teardown. The indexing test runs against a worker whose retry backoff is capped at a few
seconds (``GLASSBOX_TASK_RETRY_BACKOFF_MAX_S``); the session's own worker is stopped
meanwhile and started again afterwards.
"""

from __future__ import annotations

import time

import pytest
from faults_support import (
    ANSWER_WITHIN_S,
    assert_health_names_only,
    ensure_running,
    rows_with_id,
    search_problem,
    state,
    upload,
    wait_for,
    wait_ready,
)
from glassbox.clients.milvus.client import MediaIndex
from glassbox.clients.milvus.errors import IndexUnavailable, is_unavailable
from glassbox.config import get_settings
from glassbox_launch.process import stop
from glassbox_web import runtime
from media.models import MediaItem
from rest_framework.test import APIClient

pytestmark = pytest.mark.integration



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

    problem = search_problem(api)
    assert "search index" in problem["detail"]
    assert_health_names_only("milvus")


@pytest.mark.django_db(transaction=True)
def test_indexing_retries_while_milvus_is_down_and_earlier_items_survive_its_restart(
    fast_retry_worker, milvus, stack, alice, api, samples
) -> None:
    before = upload(alice, samples / "dog.jpg")
    wait_ready(before.pk, 90, "before Milvus stopped")
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

    wait_ready(during.pk, 90, "after Milvus returned")
    assert before.pk in found_ids(api, "dog")  # indexed before the restart, still found
    assert rows_with_id(before.pk) == 1
    assert rows_with_id(during.pk) == 1


def test_an_exception_chained_to_itself_is_classified_without_looping() -> None:
    """pymilvus raises errors whose ``__context__`` is the error itself."""
    exc = RuntimeError("Collection 'x' is in state 'released'; call load() first")
    exc.__context__ = exc
    assert is_unavailable(exc) is False
    refused = ConnectionRefusedError("refused")
    refused.__context__ = refused
    assert is_unavailable(refused) is True


def test_an_unreachable_milvus_fails_fast_as_unavailable(milvus, milvus_uri) -> None:
    stop(milvus, echo=lambda _m: None)
    index = MediaIndex(milvus_uri, get_settings().milvus_collection, timeout=10.0)
    started = time.monotonic()
    with pytest.raises(IndexUnavailable):
        index.search([0.0] * 383 + [1.0], limit=1, viewer_id=1)
    assert time.monotonic() - started < ANSWER_WITHIN_S
