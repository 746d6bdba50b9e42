"""Fixtures shared by the fault tests (test_faults_*.py)."""

from __future__ import annotations

import pytest
from faults_support import FAST_RETRIES
from glassbox_launch.process import start, stop
from rest_framework.test import APIClient


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
def alice(django_user_model):
    return django_user_model.objects.create_user("alice", "alice@example.test", "pw-123456!")


@pytest.fixture
def api(alice) -> APIClient:
    client = APIClient()
    client.force_authenticate(alice)
    return client
