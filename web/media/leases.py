"""A worker's lease on an item, kept alive while it works.

``held(item_id, owner)`` renews the lease every third of its length from a background thread,
so a long step (a model call, a video's decoding) never lets it lapse while the worker lives.
When the worker dies — ``kill -9``, the OOM killer, a lost node — the renewals stop, the
lease lapses, and the reaper (``media.recovery``) re-queues the item: recovery takes about one
lease, not the broker's visibility timeout. Kubernetes' node leases work the same way.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django import db

from .actions import lifecycle

logger = logging.getLogger(__name__)


@contextmanager
def held(item_id: int, owner: str) -> Iterator[None]:
    """Renew ``owner``'s lease on the item until the block ends."""
    stop = threading.Event()
    period = max(0.5, lifecycle.lease_s() / 3)

    def renew() -> None:
        try:
            while not stop.wait(period):
                try:
                    if not lifecycle.renew_lease(item_id, owner):
                        logger.warning("media %s: lease of %s was taken over", item_id, owner)
                        return
                except db.Error:  # the database is down: try again next period
                    logger.warning("media %s: could not renew its lease", item_id, exc_info=True)
        finally:
            db.connection.close()  # this thread's own connection

    thread = threading.Thread(target=renew, name=f"lease-{item_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)
