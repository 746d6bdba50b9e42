"""Fixtures shared by the integration tests: a Triton client and the concept bank, and for the
fault tests (test_faults_*.py) a fast-retrying worker, a user and an API client."""

from __future__ import annotations

import pytest
from faults_support import FAST_RETRIES, restored
from glassbox.clients.triton import InferenceClient
from glassbox.concepts import ConceptBank
from glassbox.config import Settings
from glassbox_launch.process import Service, start, stop


@pytest.fixture(scope="module")
def inference(triton_url: str) -> InferenceClient:
    """A client of the session's Triton (offline profile)."""
    return InferenceClient(triton_url, timeout=60.0)


@pytest.fixture(scope="session")
def bank() -> ConceptBank:
    return ConceptBank.load(Settings().concept_bank_path)


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
def triton(stack, triton_url) -> Service:
    """The session's Triton; whatever the test did to it, it runs again afterwards."""
    with restored(stack.triton()) as svc:
        yield svc


@pytest.fixture
def milvus(stack, milvus_uri) -> Service:
    """The session's Milvus Lite server; whatever the test did to it, it runs again afterwards."""
    with restored(stack.milvus()) as svc:
        yield svc
