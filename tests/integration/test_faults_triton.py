"""Fault tolerance when Triton is down: uploads wait and recover, the API answers at once.

The session's Triton is stopped inside a test and always started again in the fixture's
teardown, so later tests find it as before. The pipeline test runs against a worker whose
retry backoff is capped at a few seconds (``GLASSBOX_TASK_RETRY_BACKOFF_MAX_S``), so an
item picks up the restarted Triton within the test's deadline; the session's own worker is
stopped meanwhile and started again afterwards.
"""

from __future__ import annotations

import faults_support as faults
import pytest
from glassbox_launch.process import stop
from glassbox_web import runtime
from media.models import MediaItem

pytestmark = pytest.mark.integration


@pytest.mark.django_db(transaction=True)
def test_an_upload_retries_while_triton_is_down_and_becomes_ready_when_it_returns(
    fast_retry_worker, triton, alice, samples
) -> None:
    stop(triton, echo=lambda _m: None)
    item = faults.upload(alice, samples / "dog.jpg")

    def retried_a_few_times():
        now = faults.state(item.pk)
        assert now["status"] != MediaItem.Status.FAILED, f"failed while Triton was down: {now}"
        return now["attempts"] >= 3

    faults.wait_for(retried_a_few_times, 60, "the analysis to be retried while Triton is down")
    waiting = faults.state(item.pk)
    assert waiting["status"] in {MediaItem.Status.QUEUED, MediaItem.Status.PROCESSING}
    assert waiting["failure_reason"] == ""

    faults.ensure_running(triton)

    faults.wait_ready(item.pk, 90, "after Triton returned")
    item.refresh_from_db()
    assert item.attempts >= waiting["attempts"]
    assert item.failure_reason == ""
    assert item.tags.exists() and hasattr(item, "profile")


@pytest.mark.django_db(transaction=True)
def test_while_triton_is_down_search_answers_503_problem_and_health_names_triton(
    triton, api, redis_service, milvus_uri
) -> None:
    runtime.media_index()  # the collection exists, so only Triton can be reported down
    stop(triton, echo=lambda _m: None)

    problem = faults.search_problem(api)
    assert "inference" in problem["detail"]
    assert problem["retry_after"]
    faults.assert_health_names_only("triton")


@pytest.mark.django_db(transaction=True)
def test_search_and_health_recover_once_triton_is_back(triton, api, redis_service, milvus_uri):
    stop(triton, echo=lambda _m: None)
    assert api.get("/api/v1/search/", {"q": "dog"}).status_code == 503
    faults.ensure_running(triton)
    assert api.get("/api/v1/search/", {"q": "dog"}).status_code == 200
    health = faults.health_detail().json()
    assert health["checks"]["triton"]["ok"] is True, health
