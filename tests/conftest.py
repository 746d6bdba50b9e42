"""Session-wide real services for integration and browser tests.

Each heavy service starts once per test session, on the test ports, with state under
``var/test`` (or ``GLASSBOX_TEST_VAR_DIR``; wiped at the start), and stops at the end.
infra/bin/test exports the matching ``GLASSBOX_*`` addresses before pytest starts, so
Django's settings see them too.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from glassbox_launch.process import LaunchError, start, stop
from glassbox_launch.stack import Stack, test_stack

SAMPLES = Path("/usr/share/darknet/data")


@pytest.fixture(scope="session")
def stack() -> Stack:
    return test_stack()


@pytest.fixture(scope="session")
def _clean_test_state(stack: Stack):
    # Nothing of ours may still run from an aborted session before the state is wiped.
    for svc in (stack.worker(), stack.milvus(), stack.redis()):
        stop(svc, echo=lambda _m: None)
    for sub in ("milvus", "redis", "media"):
        shutil.rmtree(stack.var_dir / sub, ignore_errors=True)
    stack.var_dir.mkdir(parents=True, exist_ok=True)
    return stack


def _started(svc):
    try:
        start(svc)
    except LaunchError as exc:
        pytest.fail(f"could not start {svc.name} for the tests: {exc}", pytrace=False)
    return svc


def _running(svc, address: str):
    """A session fixture's body: start ``svc``, yield its address, stop it at the end."""
    _started(svc)
    yield address
    stop(svc)


@pytest.fixture(scope="session")
def redis_service(_clean_test_state: Stack):
    stack = _clean_test_state
    yield from _running(stack.redis(), f"redis://127.0.0.1:{stack.ports.redis}/0")


@pytest.fixture(scope="session")
def milvus_uri(_clean_test_state: Stack):
    stack = _clean_test_state
    yield from _running(stack.milvus(), f"http://127.0.0.1:{stack.ports.milvus}")


@pytest.fixture(scope="session")
def triton_url(stack: Stack):
    yield from _running(stack.triton(), f"127.0.0.1:{stack.ports.triton}")


@pytest.fixture(scope="session")
def samples() -> Path:
    if not (SAMPLES / "dog.jpg").exists():
        pytest.fail("sample photos missing: run `infra/bin/setup --test` (Debian package darknet)")
    return SAMPLES


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, django_db_blocker, stack, redis_service, milvus_uri, triton_url):
    """A real Celery worker process, pointed at pytest-django's test database."""
    from django.db import connection

    with django_db_blocker.unblock():
        cfg = connection.settings_dict
    db_url = os.environ.get("GLASSBOX_DATABASE_URL", "")
    if cfg["ENGINE"].endswith("postgresql"):
        db_url = (
            f"postgres://{cfg['USER'] or 'postgres'}@{cfg['HOST'] or '127.0.0.1'}:"
            f"{cfg['PORT'] or 5432}/{cfg['NAME']}"
        )
    elif cfg["ENGINE"].endswith("sqlite3"):
        db_url = f"sqlite:///{cfg['NAME']}"
    svc = _started(
        stack.worker(
            extra_env={"GLASSBOX_DATABASE_URL": db_url, "GLASSBOX_VAR_DIR": str(stack.var_dir)}
        )
    )
    yield svc
    stop(svc)


@pytest.fixture
def api(alice):
    """A DRF client authenticated as ``alice`` (each suite's conftest says who she is)."""
    from rest_framework.test import APIClient  # the models' tests run without DRF

    client = APIClient()
    client.force_authenticate(alice)
    return client
