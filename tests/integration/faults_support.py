"""Helpers shared by the fault tests (test_faults_*.py): waiting with a deadline, restarting
a stopped service (and a fixture body that always does), uploading and reading an item's
state, waiting for it to be ready, counting index rows."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from glassbox.clients.milvus.client import MediaIndex
from glassbox.config import get_settings
from glassbox_launch.process import Service, port_in_use, start
from glassbox_web import runtime
from glassbox_web.problems import PROBLEM_CONTENT_TYPE
from media.actions import commands
from media.models import MediaItem
from rest_framework.test import APIClient

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


@contextmanager
def restored(svc: Service) -> Iterator[Service]:
    """Yield ``svc``; whatever the test did to it, it runs again afterwards, and no client of
    this process keeps a connection to the old server."""
    try:
        yield svc
    finally:
        ensure_running(svc)
        runtime.reset()


def wait_ready(item_id: int, timeout_s: float, when: str) -> None:
    """Wait until the item is ready; fail at once if it is marked failed instead."""

    def ready():
        now = state(item_id)
        assert now["status"] != MediaItem.Status.FAILED, f"failed {when}: {now}"
        return now["status"] == MediaItem.Status.READY

    wait_for(ready, timeout_s, f"the item to become ready {when}")


def state(item_id: int) -> dict:
    return MediaItem.objects.values("status", "attempts", "failure_reason").get(pk=item_id)


def upload(owner, path) -> MediaItem:
    data = path.read_bytes()
    return commands.create_media(owner, SimpleUploadedFile(path.name, data, "image/jpeg"))


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


def search_problem(api: APIClient, query: str = "dog") -> dict:
    """Search while a service is down: a 503 problem document, answered at once."""
    started = time.monotonic()
    response = api.get("/api/v1/search/", {"q": query})
    assert time.monotonic() - started < ANSWER_WITHIN_S
    assert response.status_code == 503
    assert response["Content-Type"].startswith(PROBLEM_CONTENT_TYPE)
    problem = response.json()
    assert problem["status"] == 503
    problem["retry_after"] = response.get("Retry-After")
    return problem


def health_detail():
    """The operators' health view (``/api/v1/health/detail/``), asked as a superuser (who
    holds every role); the open ``/api/v1/health/`` says only ok or down."""
    from django.contrib.auth import get_user_model

    operator, _ = get_user_model().objects.get_or_create(
        username="health-operator", defaults={"is_superuser": True}
    )
    client = APIClient()
    client.force_authenticate(operator)
    return client.get("/api/v1/health/detail/")


def assert_health_names_only(down: str) -> None:
    """The health check answers at once, 503 ``down`` to anyone, and to an operator
    ``degraded`` with only ``down`` failing."""
    started = time.monotonic()
    public = APIClient().get("/api/v1/health/")
    assert time.monotonic() - started < ANSWER_WITHIN_S
    assert public.status_code == 503 and public.json() == {"status": "down"}
    started = time.monotonic()
    health = health_detail()
    assert time.monotonic() - started < ANSWER_WITHIN_S
    assert health.status_code == 503
    body = health.json()
    assert body["status"] == "degraded"
    assert body["checks"][down]["ok"] is False
    others = {"database", "redis", "triton", "milvus"} - {down}
    assert all(body["checks"][name]["ok"] for name in others), body
