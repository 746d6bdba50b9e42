"""The broker's queues as an operator sees them: depth, and the age of the oldest message.

With the Redis broker a Celery queue is a Redis list named after it (plus one list per
priority step); a message is pushed on the left and taken from the right, so the oldest is
the last element. Its age comes from the ``glassbox_sent_at`` header that every message gets
when it is published (``ops.signals``); a message sent before that header existed has none.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import redis
from django.conf import settings
from media.recovery import PRIORITY_SEP, PRIORITY_STEPS

SENT_AT_HEADER = "glassbox_sent_at"
TIMEOUT_S = 2.0

_client: redis.Redis | None = None


def client() -> redis.Redis:
    """This process's connection to the broker (redis-py resets its pool after a fork)."""
    global _client
    if _client is None:
        _client = redis.Redis.from_url(
            settings.CELERY_BROKER_URL, socket_timeout=TIMEOUT_S, socket_connect_timeout=TIMEOUT_S
        )
    return _client


def queue_names() -> list[str]:
    """Every queue a task is routed to (``CELERY_TASK_ROUTES``), in the order of the routes:
    one worker pool per queue."""
    names: list[str] = []
    for route in settings.CELERY_TASK_ROUTES.values():
        if route["queue"] not in names:
            names.append(route["queue"])
    return names


@dataclass(frozen=True)
class QueueStats:
    name: str
    depth: int  # messages waiting (every priority); taken messages are not counted
    oldest_age_s: float | None  # None: empty, or its oldest message has no sent-at header


def queue_stats(now: float | None = None) -> list[QueueStats]:
    """Depth and oldest age of every queue; raises ``redis.RedisError`` if the broker is down."""
    now = time.time() if now is None else now
    conn = client()
    out = []
    for name in queue_names():
        keys = [name, *(f"{name}{PRIORITY_SEP}{p}" for p in PRIORITY_STEPS)]
        pipe = conn.pipeline(transaction=False)
        for key in keys:
            pipe.llen(key)
            pipe.lindex(key, -1)
        replies = pipe.execute()
        depth = sum(int(n) for n in replies[0::2])
        sent = [s for s in (sent_at(raw) for raw in replies[1::2] if raw) if s is not None]
        oldest = round(max(0.0, now - min(sent)), 1) if sent else None
        out.append(QueueStats(name, depth, oldest))
    return out


def sent_at(raw: bytes) -> float | None:
    """The ``glassbox_sent_at`` header of one raw kombu message, if it has one."""
    try:
        value = json.loads(raw)["headers"][SENT_AT_HEADER]
        return float(value)
    except (ValueError, KeyError, TypeError):
        return None
