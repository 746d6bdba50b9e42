"""Items done and failed per minute, counted by the workers in the broker's Redis.

A worker records an outcome when a task it ran moved an item to ``ready`` (done) or to
``failed`` (``ops.signals``). Each minute is one Redis counter that expires after two hours,
so the dashboard reads the last hour with one ``MGET`` and nothing ever needs pruning.
Counting never fails a task: a broker that is down loses that count (and runs no tasks).
"""

from __future__ import annotations

import logging
import time

import redis

from .queues import client

logger = logging.getLogger(__name__)

OUTCOMES = ("done", "failed")
KEEP_S = 2 * 3600
MINUTES = 60


def _key(outcome: str, minute: int) -> str:
    return f"glassbox:ops:items:{outcome}:{minute}"


def record(outcome: str, now: float | None = None) -> None:
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}")
    minute = int((time.time() if now is None else now) // 60)
    try:
        pipe = client().pipeline(transaction=False)
        pipe.incr(_key(outcome, minute))
        pipe.expire(_key(outcome, minute), KEEP_S)
        pipe.execute()
    except redis.RedisError as exc:
        logger.warning("throughput: could not count an item %s: %s", outcome, exc)


def last_hour(now: float | None = None) -> dict[str, list[int]]:
    """Per outcome, the counts of the last 60 minutes, oldest first (the current minute
    last). Raises ``redis.RedisError`` if the broker is down."""
    current = int((time.time() if now is None else now) // 60)
    minutes = range(current - MINUTES + 1, current + 1)
    out = {}
    for outcome in OUTCOMES:
        values = client().mget([_key(outcome, m) for m in minutes])
        out[outcome] = [int(v) if v is not None else 0 for v in values]
    return out
