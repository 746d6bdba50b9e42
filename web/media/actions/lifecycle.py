"""The worker's side of an item: claim it, record its analysis, mark it indexed or failed.

An item goes ``queued`` -> ``processing`` (:func:`begin_analysis`) -> analysed
(:func:`record_analysis`) -> ``ready`` (:func:`mark_indexed`), or ``failed`` with a short
reason, from which a user can retry it. Every step re-reads the row and returns quietly when
it is gone. The jobs that carry an item through are named here; ``glassbox_web.queue`` sends
them and ``CELERY_TASK_ROUTES`` routes them.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.db import transaction
from django.utils import timezone
from glassbox.analysis.pipeline import Analysis

from ..models import MediaItem
from . import persistence

ANALYZE_TASK = "media.analyze"
INDEX_TASK = "media.index"
UNINDEX_TASK = "media.unindex"

MAX_REASON = 500


def begin_analysis(item_id: int) -> MediaItem | None:
    """Claim an item for analysis; ``None`` if it is gone or already done."""
    with transaction.atomic():
        item = MediaItem.objects.select_for_update().filter(pk=item_id).first()
        if item is None or item.status == MediaItem.Status.READY:
            return None
        item.status = MediaItem.Status.PROCESSING
        item.attempts += 1
        item.save(update_fields=["status", "attempts", "updated"])
    return item


def record_analysis(
    item_id: int, analysis: Analysis, timings: Mapping[str, float] | None = None
) -> bool:
    """Store tags and the semantic profile of one analysis. ``False`` if the item is gone."""
    with transaction.atomic():
        item = MediaItem.objects.select_for_update().filter(pk=item_id).first()
        if item is None:
            return False
        persistence.store_analysis(item, analysis, timings or {})
    return True


def mark_indexed(item_id: int, timings: Mapping[str, float] | None = None) -> None:
    with transaction.atomic():
        item = MediaItem.objects.select_for_update().filter(pk=item_id).first()
        if item is None:
            return
        item.status = MediaItem.Status.READY
        item.failure_reason = ""
        item.needs_reindex = False
        item.timings = {**item.timings, **dict(timings or {})}
        item.save(update_fields=["status", "failure_reason", "needs_reindex", "timings", "updated"])


def mark_failed(item_id: int, reason: str) -> None:
    """Record why an item could not be processed; it can then be retried."""
    MediaItem.objects.filter(pk=item_id).update(
        status=MediaItem.Status.FAILED, failure_reason=reason[:MAX_REASON], updated=timezone.now()
    )


def mark_index_failed(item_id: int, reason: str) -> None:
    """A ready item keeps serving (flagged for re-index); an unfinished one fails."""
    with transaction.atomic():
        item = MediaItem.objects.select_for_update().filter(pk=item_id).first()
        if item is None:
            return
        if item.status == MediaItem.Status.READY:
            item.needs_reindex = True
            item.save(update_fields=["needs_reindex", "updated"])
        else:
            mark_failed(item_id, reason)
