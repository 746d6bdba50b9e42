"""``manage.py maintain``: the loop that keeps nothing stuck and the index in step.

One process beside the workers (the launcher and compose run one). Each duty runs on its own
period, and a failing duty (the database, Redis or Milvus down) is logged and tried again on
its next turn; the loop itself never stops on an error:

- the outbox's dispatcher (``jobs.outbox.dispatch_pending``), every ``OUTBOX_POLL_S``;
- the reaper (``media.recovery.reap``): expired leases and lost messages;
- the reconciler (``media.reconcile``): ``needs_reindex`` items, and a consistency check at
  once when the index's row count is off, else every ``CONSISTENCY_INTERVAL_S``.

Several may run at once (rows are claimed with ``SKIP LOCKED``, repairs are idempotent), but
one is enough. ``--once`` runs every duty one time and exits (for cron, or a test).
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable

from django import db
from django.conf import settings
from django.core.management.base import BaseCommand
from glassbox.clients.milvus.client import from_settings as index_from_settings
from glassbox.clients.milvus.errors import IndexFailure
from glassbox.config import get_settings
from jobs import outbox

from media import reconcile, recovery

logger = logging.getLogger("media.maintain")


class Duty:
    def __init__(self, name: str, period_s: float, run: Callable[[], object]) -> None:
        self.name, self.period_s, self.run = name, period_s, run
        self.next_at = 0.0  # monotonic: due at once

    def due(self, now: float) -> bool:
        return now >= self.next_at

    def __call__(self, now: float) -> None:
        self.next_at = now + self.period_s
        try:
            self.run()
        except (db.Error, IndexFailure, OSError) as exc:
            logger.warning("%s: %s: %s", self.name, type(exc).__name__, str(exc)[:300])
            db.close_old_connections()
        except Exception:
            logger.exception("%s failed", self.name)
            db.close_old_connections()


class Reconciler:
    """Resync needs_reindex items; check consistency when counts differ, or when due."""

    def __init__(self, check_every_s: float, sample: int) -> None:
        self.check_every_s, self.sample = check_every_s, sample
        self.checked_at = -1e9

    def __call__(self) -> None:
        index = index_from_settings(get_settings())
        try:
            reconcile.resync_pending(index)
            due = time.monotonic() - self.checked_at >= self.check_every_s
            if due or reconcile.counts_differ(index):
                reconcile.check_consistency(index, self.sample)
                self.checked_at = time.monotonic()
        finally:
            index.close()


class Command(BaseCommand):
    help = (
        "Run the outbox dispatcher, the reaper (expired leases, lost messages) and the index "
        "reconciler, each on its period, until stopped (SIGTERM or Ctrl-C)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="run every duty once and exit")

    def handle(self, *args, once: bool, **options):
        cfg = settings.RECOVERY
        duties = [
            Duty("outbox", float(cfg["OUTBOX_POLL_S"]), outbox.dispatch_pending),
            Duty("reaper", float(cfg["REAP_INTERVAL_S"]), recovery.reap),
            Duty(
                "reconciler",
                float(cfg["RECONCILE_INTERVAL_S"]),
                Reconciler(float(cfg["CONSISTENCY_INTERVAL_S"]), int(cfg["CONSISTENCY_SAMPLE"])),
            ),
        ]
        if once:
            for duty in duties:
                duty(time.monotonic())
            return
        stopping = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stopping.set())
        periods = ", ".join(f"{d.name} every {d.period_s:g} s" for d in duties)
        logger.info("maintainer ready: %s", periods)
        self.stdout.write(f"maintainer ready: {periods}")
        self.stdout.flush()
        while not stopping.is_set():
            now = time.monotonic()
            for duty in duties:
                if duty.due(now) and not stopping.is_set():
                    duty(now)
            wake = min(d.next_at for d in duties) - time.monotonic()
            stopping.wait(max(0.05, min(wake, 1.0)))
        logger.info("maintainer stopped")
