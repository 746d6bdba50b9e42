"""Helpers shared by the fault tests (test_faults_*.py): waiting with a deadline, restarting
a stopped service, uploading and reading an item's state, counting index rows."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from glassbox.config import get_settings
from glassbox.index import MediaIndex
from glassbox_launch.process import Service, port_in_use, start
from media import actions
from media.models import MediaItem

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
