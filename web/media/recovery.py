"""The reaper: items whose worker was lost, and queued items whose message was lost.

Run periodically by ``manage.py maintain``. Two cases, both repaired through the outbox:

- **An expired lease.** A ``processing`` item whose lease lapsed lost its worker (``kill -9``,
  the OOM killer, a lost node). If its analysis was stored, its indexing is sent again; if
  not, it goes back to ``queued`` and its analysis is sent again. Each loss counts as an
  interruption; after ``MAX_INTERRUPTIONS`` the item fails with that reason, so an image that
  kills its worker every time cannot loop for ever. A reprocess (``media.reprocess``) lost
  before it stored its analysis leaves the previous one intact: the item is ready again and
  its reprocess is sent again.
- **A lost message.** A ``queued`` item untouched for ``REQUEUE_AFTER_S``, with no job waiting
  in the outbox and an empty analysis queue, has no message anywhere (a broker that lost its
  data, a message reserved by a worker that died): its analysis is sent again.

Every task is idempotent and a lease held by a live task makes a duplicate message a no-op,
so sending again is always safe.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import redis
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from jobs import outbox
from jobs.models import OutboxMessage

from .actions import lifecycle
from .models import MediaItem, SemanticProfile

logger = logging.getLogger(__name__)

# kombu's Redis transport keeps a queue in a list named after it, plus one list per
# priority step ("analyze\x06\x163" ...); a message taken by a worker leaves the lists.
PRIORITY_SEP = "\x06\x16"
PRIORITY_STEPS = (3, 6, 9)


@dataclass(frozen=True)
class Reaped:
    requeued: int = 0  # analysis (or reprocess) sent again after a lost worker
    reindexed: int = 0  # indexing sent again after a lost worker
    failed: int = 0  # interrupted too often
    resent: int = 0  # queued items whose message was lost


def reap(now: dt.datetime | None = None) -> Reaped:
    now = now or timezone.now()
    requeued = reindexed = failed = 0
    limit = int(settings.RECOVERY["MAX_INTERRUPTIONS"])
    expired = MediaItem.objects.filter(
        status=MediaItem.Status.PROCESSING, lease_expires__lt=now
    ).values_list("pk", flat=True)
    for item_id in list(expired[:500]):
        outcome = _recover(item_id, now, limit)
        requeued += outcome in ("requeued", "reprocessing")
        reindexed += outcome == "reindexed"
        failed += outcome == "failed"
    resent = _resend_lost(now)
    done = Reaped(requeued, reindexed, failed, resent)
    if any((requeued, reindexed, failed, resent)):
        logger.warning("reaper: %s", done)
    return done


def _recover(item_id: int, now: dt.datetime, limit: int) -> str:
    with transaction.atomic():
        item = (
            MediaItem.objects.select_for_update(skip_locked=True)
            .filter(pk=item_id, status=MediaItem.Status.PROCESSING, lease_expires__lt=now)
            .first()
        )
        if item is None:
            return ""  # renewed, finished or being handled meanwhile
        item.interruptions += 1
        if item.interruptions > limit:
            lifecycle.mark_failed(
                item_id,
                f"Processing was interrupted {item.interruptions} times: its worker stopped "
                "(killed, out of memory, or its machine was lost) before finishing. "
                "Retry to try again.",
            )
            return "failed"
        if item.lease_owner.startswith(lifecycle.REPROCESS_OWNER_PREFIX):
            # a reprocess lost before it stored anything: the previous analysis is intact,
            # so the item is ready again (and searchable) and its reprocess is sent again
            item.status = MediaItem.Status.READY
            item.lease_owner, item.lease_expires = "", None
            item.save(update_fields=["status", "interruptions", *lifecycle.LEASE_FIELDS, "updated"])
            outbox.enqueue(lifecycle.REPROCESS_TASK, item_id)
            return "reprocessing"
        analysed = item.analyzed_at is not None and _has_profile(item_id)
        if analysed:  # only the indexing was lost: send it again, under a new lease
            item.lease_owner, item.lease_expires = (
                lifecycle.index_owner(item_id),
                (lifecycle.lease_until()),
            )
            item.save(update_fields=["interruptions", *lifecycle.LEASE_FIELDS, "updated"])
            outbox.enqueue(lifecycle.INDEX_TASK, item_id)
            return "reindexed"
        item.status = MediaItem.Status.QUEUED
        item.lease_owner, item.lease_expires = "", None
        item.save(update_fields=["status", "interruptions", *lifecycle.LEASE_FIELDS, "updated"])
        outbox.enqueue(lifecycle.ANALYZE_TASK, item_id)
        return "requeued"


def _has_profile(item_id: int) -> bool:
    return SemanticProfile.objects.filter(item_id=item_id).exists()


def _resend_lost(now: dt.datetime) -> int:
    cutoff = now - dt.timedelta(seconds=float(settings.RECOVERY["REQUEUE_AFTER_S"]))
    stale = list(
        MediaItem.objects.filter(status=MediaItem.Status.QUEUED, updated__lt=cutoff)
        .exclude(pk__in=OutboxMessage.objects.values("item_id"))
        .values_list("pk", flat=True)[:500]
    )
    if not stale:
        return 0
    waiting = queue_length("analyze")
    if waiting is None or waiting > 0:
        return 0  # the broker is down (the outbox waits for it) or still has work queued
    resent = 0
    for item_id in stale:
        with transaction.atomic():
            touched = MediaItem.objects.filter(
                pk=item_id, status=MediaItem.Status.QUEUED, updated__lt=cutoff
            ).update(updated=now)
            if touched:
                outbox.enqueue(lifecycle.ANALYZE_TASK, item_id)
                resent += 1
    return resent


def queue_length(name: str) -> int | None:
    """Messages waiting in a broker queue (every priority), or ``None`` if Redis is down."""
    client = redis.Redis.from_url(
        settings.CELERY_BROKER_URL, socket_timeout=2.0, socket_connect_timeout=2.0
    )
    try:
        keys = [name, *(f"{name}{PRIORITY_SEP}{p}" for p in PRIORITY_STEPS)]
        return sum(int(client.llen(k)) for k in keys)
    except redis.RedisError:
        return None
    finally:
        client.close()


def oldest_expired_lease(now: dt.datetime | None = None) -> float | None:
    """Seconds since the oldest lapsed lease expired (``None`` when none has)."""
    now = now or timezone.now()
    oldest = (
        MediaItem.objects.filter(status=MediaItem.Status.PROCESSING, lease_expires__lt=now)
        .order_by("lease_expires")
        .values_list("lease_expires", flat=True)
        .first()
    )
    return (now - oldest).total_seconds() if oldest else None
