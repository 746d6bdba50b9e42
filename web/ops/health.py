"""Dependency checks with short timeouts, run concurrently so the endpoint never hangs."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import asdict, dataclass

import redis
from django.conf import settings
from django.db import connection
from glassbox.clients.milvus.client import from_settings as index_from_settings
from glassbox.clients.triton import InferenceClient
from glassbox.config import get_settings

CHECK_TIMEOUT_S = 2.0
STRANDED_AFTER_S = 120.0  # a lapsed lease older than this: the reaper is not running


@dataclass(frozen=True)
class Check:
    ok: bool
    detail: str
    latency_ms: float


def check_database() -> tuple[bool, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return True, connection.vendor


def check_redis() -> tuple[bool, str]:
    client = redis.Redis.from_url(
        settings.REDIS_URL, socket_timeout=CHECK_TIMEOUT_S, socket_connect_timeout=CHECK_TIMEOUT_S
    )
    try:
        client.ping()
    finally:
        client.close()
    return True, "pong"


def check_triton() -> tuple[bool, str]:
    ready = InferenceClient(get_settings().triton_url, timeout=CHECK_TIMEOUT_S).ready()
    return ready, "ready" if ready else "not ready"


def check_milvus() -> tuple[bool, str]:
    cfg = get_settings()
    index = index_from_settings(cfg, timeout=CHECK_TIMEOUT_S)
    try:
        return index.health()
    finally:
        index.close()


REMOTE_CHECKS: dict[str, Callable[[], tuple[bool, str]]] = {
    "redis": check_redis,
    "triton": check_triton,
    "milvus": check_milvus,
}


def run_checks() -> dict[str, dict]:
    """Every check's result by name (``ok``, ``detail``, ``latency_ms``): the operators' view.

    The database runs here, the rest in threads with a deadline. The details (addresses, error
    texts) are for operators only; the public endpoint answers :func:`all_ok` as up or down.
    """
    results = {"database": _timed(check_database)}
    pool = ThreadPoolExecutor(max_workers=len(REMOTE_CHECKS), thread_name_prefix="health")
    try:
        started = time.perf_counter()
        futures = {name: pool.submit(_timed, fn) for name, fn in REMOTE_CHECKS.items()}
        for name, future in futures.items():
            remaining = max(0.0, CHECK_TIMEOUT_S + 0.5 - (time.perf_counter() - started))
            try:
                results[name] = future.result(timeout=remaining)
            except FutureTimeout:
                results[name] = Check(False, "timed out", round(CHECK_TIMEOUT_S * 1000, 1))
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return {name: asdict(check) for name, check in results.items()}


def pipeline_status() -> dict:
    """The workers and what waits for them, for operators: workers alive (Celery's inspect
    ping through the broker; ``None`` when the broker does not answer), the oldest lapsed
    lease (an item whose worker died, waiting for the reaper), the outbox's backlog, and the
    latest consistency check of the index against the database."""
    from jobs import outbox
    from media import reconcile, recovery

    try:
        replies = ping_workers()
        workers: dict = {"alive": len(replies), "names": sorted(replies)}
    except Exception as exc:  # the broker is down: nobody can be asked
        workers = {"alive": None, "names": [], "error": f"{type(exc).__name__}: {exc}"[:200]}
    waiting, oldest = outbox.backlog()
    lease = recovery.oldest_expired_lease()
    return {
        "workers": workers,
        "oldest_expired_lease_s": None if lease is None else round(lease, 1),
        "outbox": {"waiting": waiting, "oldest_s": None if oldest is None else round(oldest, 1)},
        "index_check": reconcile.last_check(),
    }


def ping_workers() -> dict[str, object]:
    """Celery's inspect ping: the workers that answered within a second, by name."""
    from glassbox_web.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=CHECK_TIMEOUT_S)
        return app.control.inspect(timeout=1.0, connection=conn).ping() or {}


def pipeline_ok(pipeline: dict) -> bool:
    """Some worker answers, and no lapsed lease has waited past a few reaper periods."""
    lease = pipeline["oldest_expired_lease_s"]
    return bool(pipeline["workers"]["alive"]) and (lease is None or lease < STRANDED_AFTER_S)


def all_ok(checks: dict[str, dict]) -> bool:
    """Whether every check of :func:`run_checks` passed (the public up-or-down answer)."""
    return all(check["ok"] for check in checks.values())


def _timed(fn: Callable[[], tuple[bool, str]]) -> Check:
    started = time.perf_counter()
    try:
        ok, detail = fn()
    except Exception as exc:  # a failing dependency is a result, not an error
        ok, detail = False, f"{type(exc).__name__}: {str(exc)[:200]}"
    return Check(bool(ok), str(detail), round((time.perf_counter() - started) * 1000, 1))
