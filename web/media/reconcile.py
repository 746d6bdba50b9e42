"""The index reconciler: the database is the truth, and Milvus is brought back in step.

Run periodically by ``manage.py maintain``:

- ``resync_pending`` (every ``RECONCILE_INTERVAL_S``): items marked ``needs_reindex`` (a
  visibility change or an indexing that could not reach Milvus) are written again, filter
  fields and all, and the mark is cleared unless the item changed meanwhile. If the index
  holds a different number of rows than the database has ready items, a consistency check
  runs at once: that is how the vector of an item deleted while Milvus was down goes.
- ``check_consistency`` (every ``CONSISTENCY_INTERVAL_S``): compares the ids in the index
  with the database's ready items — rows of deleted (or failed) items are removed, ready items
  missing from the index are written — and a random sample of items' filter fields (owner,
  visibility, kind, flag, date, tags) with what the database says they should be; rows that
  differ are rewritten. What it found is logged and kept (``IndexCheck``) for the health page.

Items still ``processing`` are left alone: their row may be written a moment before they are
marked ready.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import asdict, dataclass, field

from django.utils import timezone
from glassbox.clients.milvus.client import MediaIndex
from glassbox.clients.milvus.schema import filter_values

from .indexing import index_row, index_rows
from .models import IndexCheck, MediaItem

logger = logging.getLogger(__name__)

BATCH = 200


@dataclass
class Consistency:
    """What one consistency check found and did."""

    database: int = 0  # ready items
    index: int = 0  # rows in the index
    missing: list[int] = field(default_factory=list)  # ready, not in the index: written
    orphaned: list[int] = field(default_factory=list)  # in the index, not ready: removed
    sampled: int = 0
    mismatched: list[int] = field(default_factory=list)  # filter fields differed: rewritten
    seconds: float = 0.0

    @property
    def in_step(self) -> bool:
        return not (self.missing or self.orphaned or self.mismatched)

    def summary(self) -> str:
        if self.in_step:
            return f"in step: {self.database} items, {self.sampled} sampled"
        return (
            f"repaired: {len(self.missing)} missing, {len(self.orphaned)} orphaned, "
            f"{len(self.mismatched)} of {self.sampled} sampled with stale fields "
            f"({self.database} items, {self.index} rows before)"
        )


def ready_items():
    return MediaItem.objects.filter(status=MediaItem.Status.READY, profile__isnull=False)


def resync_pending(index: MediaIndex, limit: int = 5 * BATCH) -> int:
    """Write the rows of ready items marked ``needs_reindex``; returns how many."""
    done = 0
    while done < limit:
        items = list(
            ready_items()
            .filter(needs_reindex=True)
            .select_related("profile")
            .prefetch_related("tags")
            .order_by("pk")[:BATCH]
        )
        if not items:
            break
        index.upsert([row for item in items for row in index_rows(item)])
        for item in items:  # unless it changed again meanwhile (a newer change wins)
            MediaItem.objects.filter(pk=item.pk, updated=item.updated).update(needs_reindex=False)
        done += len(items)
        if len(items) < BATCH:
            break
    if done:
        logger.warning("reconciler: re-synced %d item(s) marked needs_reindex", done)
    return done


def counts_differ(index: MediaIndex) -> bool:
    return index.count("id >= 0") != ready_items().count()


def check_consistency(index: MediaIndex, sample: int = 200) -> Consistency:
    """Compare and repair; the result is logged and stored."""
    started = time.perf_counter()
    found = Consistency()
    ready = set(ready_items().values_list("pk", flat=True))
    in_flight = set(
        MediaItem.objects.filter(status=MediaItem.Status.PROCESSING).values_list("pk", flat=True)
    )
    stored = set(index.all_ids())
    found.database, found.index = len(ready), len(stored)
    found.orphaned = sorted((stored | index.shot_item_ids()) - ready - in_flight)
    found.missing = sorted(ready - stored)
    if found.orphaned:
        index.delete(found.orphaned)
    _write(index, found.missing)
    shared = sorted(ready & stored)
    picked = random.sample(shared, min(sample, len(shared)))
    found.sampled = len(picked)
    found.mismatched = _stale(index, picked)
    _write(index, found.mismatched)
    found.seconds = round(time.perf_counter() - started, 3)
    (logger.info if found.in_step else logger.warning)("consistency check: %s", found.summary())
    IndexCheck.record(found.in_step, found.summary(), asdict(found))
    return found


def _stale(index: MediaIndex, ids: list[int]) -> list[int]:
    stored = index.filter_fields(ids)
    items = ready_items().filter(pk__in=ids).select_related("profile").prefetch_related("tags")
    return sorted(
        item.pk for item in items if stored.get(item.pk) != filter_values(index_row(item))
    )


def _write(index: MediaIndex, ids: list[int]) -> None:
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        items = (
            ready_items().filter(pk__in=chunk).select_related("profile").prefetch_related("tags")
        )
        index.upsert([row for item in items for row in index_rows(item)])
        MediaItem.objects.filter(pk__in=chunk, needs_reindex=True).update(needs_reindex=False)


def last_check() -> dict | None:
    """The latest consistency check, for the health page."""
    check = IndexCheck.objects.order_by("-ran_at").first()
    if check is None:
        return None
    age = (timezone.now() - check.ran_at).total_seconds()
    return {"in_step": check.in_step, "summary": check.summary, "age_s": round(age, 1)}
