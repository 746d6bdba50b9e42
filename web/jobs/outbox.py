"""The transactional outbox (the pattern in Richardson's *Microservices Patterns*).

``enqueue`` writes the job as a row inside the caller's transaction, so the job exists exactly
when the change it follows was committed. After the commit it is sent at once when the broker
answers (``send_now``); otherwise the row waits, and the maintainer's dispatcher
(``dispatch_pending``, run by ``manage.py maintain``) keeps sending it, with a short backoff,
until the broker takes it. A row is deleted only after the broker accepted the job. Jobs
carry ids only, and every task they start is idempotent, so a job sent twice (a send that
succeeded but whose row could not be deleted) is harmless.

Rows are claimed with ``SELECT ... FOR UPDATE SKIP LOCKED`` (PostgreSQL), so any number of
web processes and dispatchers share the outbox without sending one row twice at once.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass
from functools import partial

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from glassbox_web import queue
from kombu.exceptions import OperationalError as BrokerError

from .models import OutboxMessage

logger = logging.getLogger(__name__)

BATCH = 200
MAX_BACKOFF_S = 5.0  # the broker is retried at least this often while it is down
QUIET_AFTER_FAILURE_S = 5.0  # a request does not wait on a broker that just failed


@dataclass(frozen=True)
class Dispatched:
    sent: int
    waiting: int  # rows left for later (the broker failed)
    error: str = ""


_broker_failed_at = -1e9  # monotonic time of this process's last failed send


def enqueue(task_name: str, item_id: int) -> None:
    """Write the job inside the current transaction (or at once, outside one); after the
    commit, try to send it right away."""
    OutboxMessage.objects.bulk_create(
        [OutboxMessage(task=task_name, item_id=int(item_id))], ignore_conflicts=True
    )
    transaction.on_commit(partial(send_now, task_name, int(item_id)))


def send_now(task_name: str, item_id: int) -> bool:
    """Send one waiting job if the broker answers; ``False`` leaves it to the dispatcher."""
    if time.monotonic() - _broker_failed_at < QUIET_AFTER_FAILURE_S:
        return False
    try:
        with transaction.atomic():
            rows = _claim(OutboxMessage.objects.filter(task=task_name, item_id=item_id), 1)
            if not rows:
                return False  # already sent, or being sent by someone else
            return _send_rows(rows).waiting == 0
    except Exception:  # never fail the request that queued it: the dispatcher will send it
        logger.exception("outbox: could not send %s(%s) now", task_name, item_id)
        return False


def dispatch_pending(limit: int = BATCH) -> Dispatched:
    """Send every job whose time has come (oldest first), up to ``limit``."""
    with transaction.atomic():
        rows = _claim(OutboxMessage.objects.filter(available_at__lte=timezone.now()), limit)
        return _send_rows(rows) if rows else Dispatched(0, 0)


def waiting_for(item_id: int, task_name: str | None = None) -> bool:
    rows = OutboxMessage.objects.filter(item_id=item_id)
    return (rows.filter(task=task_name) if task_name else rows).exists()


def backlog() -> tuple[int, float | None]:
    """(rows waiting, age in seconds of the oldest), for health and the dashboard."""
    oldest = OutboxMessage.objects.order_by("created").values_list("created", flat=True).first()
    age = (timezone.now() - oldest).total_seconds() if oldest else None
    return OutboxMessage.objects.count(), age


def _claim(rows, limit: int) -> list[OutboxMessage]:
    return list(rows.select_for_update(skip_locked=True).order_by("id")[:limit])


def _send_rows(rows: list[OutboxMessage]) -> Dispatched:
    global _broker_failed_at
    sent: list[int] = []
    for n, row in enumerate(rows):
        try:
            queue.send(row.task, row.item_id)
        except BrokerError as exc:
            _broker_failed_at = time.monotonic()
            left = [r.pk for r in rows[n:]]
            _postpone(left, rows[n].attempts, str(exc))
            OutboxMessage.objects.filter(pk__in=sent).delete()
            logger.warning("outbox: broker unavailable, %d job(s) wait: %s", len(left), exc)
            return Dispatched(len(sent), len(left), str(exc)[:300])
        sent.append(row.pk)
    OutboxMessage.objects.filter(pk__in=sent).delete()
    return Dispatched(len(sent), 0)


def _postpone(pks: list[int], attempts: int, error: str) -> None:
    wait = min(MAX_BACKOFF_S, 0.5 * 2 ** min(attempts, 8))
    OutboxMessage.objects.filter(pk__in=pks).update(
        attempts=F("attempts") + 1,
        available_at=timezone.now() + dt.timedelta(seconds=wait),
        last_error=error[:300],
    )
