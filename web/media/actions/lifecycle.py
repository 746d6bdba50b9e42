"""The worker's side of an item: claim it, record its analysis, mark it indexed or failed.

An item goes ``queued`` -> ``processing`` (:func:`begin_analysis`) -> analysed
(:func:`record_analysis`) -> ``ready`` (:func:`mark_indexed`), or ``failed`` with a short
reason, from which a user can retry it. Every step re-reads the row and returns quietly when
it is gone. The jobs that carry an item through are named here; they are written to the
outbox (``jobs.outbox``) in the transaction of the step that asks for them, and
``CELERY_TASK_ROUTES`` routes them.

While ``processing``, an item is *leased*: ``lease_owner`` (the task's id) holds it until
``lease_expires``, which the worker renews as it works (``leases.held``). A worker that dies
stops renewing, and the reaper (``media.recovery``) re-queues the item once the lease lapses.
A second message for an item whose lease is held by another task is dropped.

Each analysis records the versions that made it (``versions``: ``glassbox.analysis.version``)
and their fingerprint. A ``ready`` item analysed by older versions can be *reprocessed*
(``media.reprocess``): :func:`begin_reprocess` takes it back to ``processing`` under a lease,
and the same analysis and recording path runs again; its flags keep their decisions
(``moderation.storing``), and its title and visibility are not analysis fields.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from glassbox.analysis.pipeline import Analysis
from glassbox.analysis.version import fingerprint
from jobs import outbox
from moderation import storing as moderation_storing

from ..models import MediaItem
from . import persistence

ANALYZE_TASK = "media.analyze"
INDEX_TASK = "media.index"
UNINDEX_TASK = "media.unindex"
REPROCESS_TASK = "media.reprocess"
# a reprocess holds its lease as "reprocess:<task id>", so that the reaper knows an
# interrupted reprocess (whose item still has its previous analysis) from a first analysis
REPROCESS_OWNER_PREFIX = "reprocess:"

MAX_REASON = 500


LEASE_FIELDS = ["lease_owner", "lease_expires"]


def lease_s() -> float:
    return float(settings.RECOVERY["LEASE_S"])


def lease_until(seconds: float | None = None) -> dt.datetime:
    return timezone.now() + dt.timedelta(seconds=lease_s() if seconds is None else seconds)


def begin_analysis(item_id: int, owner: str) -> MediaItem | None:
    """Claim an item for analysis under a lease held by ``owner`` (the task's id); ``None`` if
    it is gone, done, failed, or leased to another task that is still alive."""
    with transaction.atomic():
        item = MediaItem.objects.select_for_update().filter(pk=item_id).first()
        if item is None or item.status in (MediaItem.Status.READY, MediaItem.Status.FAILED):
            return None
        held = item.status == MediaItem.Status.PROCESSING and not item.lease_expired(timezone.now())
        if held and item.lease_owner not in ("", owner):
            return None  # a duplicate message: the holder is alive and renewing
        item.status = MediaItem.Status.PROCESSING
        item.attempts += 1
        item.lease_owner, item.lease_expires = owner, lease_until()
        item.save(update_fields=["status", "attempts", *LEASE_FIELDS, "updated"])
    return item


def reprocess_owner(task_id: str) -> str:
    return f"{REPROCESS_OWNER_PREFIX}{task_id}"


def begin_reprocess(item_id: int, owner: str, target: str) -> MediaItem | None:
    """Claim a ready item analysed by other versions than ``target`` (a fingerprint) for a
    new analysis, under a lease held by ``owner`` (:func:`reprocess_owner`). The same owner
    resumes its claim (a retry of its task). ``None`` (skip) if the item is gone, not ready,
    already at ``target``, or held by another task.

    A video's windows lose their checkpoints here, so that each keyframe is analysed again
    (its cuts are kept: its flags point at its windows)."""
    with transaction.atomic():
        item = MediaItem.objects.select_for_update().filter(pk=item_id).first()
        if item is None:
            return None
        resuming = (
            item.status == MediaItem.Status.PROCESSING
            and item.lease_owner == owner
            and item.analysis_fingerprint != target
        )
        if resuming:
            item.lease_expires = lease_until()
            item.save(update_fields=["lease_expires", "updated"])
            return item
        if item.status != MediaItem.Status.READY or item.analysis_fingerprint == target:
            return None
        item.status = MediaItem.Status.PROCESSING
        item.attempts += 1
        item.lease_owner, item.lease_expires = owner, lease_until()
        item.progress = {}
        item.save(update_fields=["status", "attempts", "progress", *LEASE_FIELDS, "updated"])
        if item.is_video:
            item.shots.update(analyzed_at=None)
    return item


def _version_fields(item: MediaItem, versions: Mapping[str, Any] | None) -> list[str]:
    if versions is None:
        return []
    item.analysis_versions = dict(versions)
    item.analysis_fingerprint = fingerprint(versions)
    return ["analysis_versions", "analysis_fingerprint"]


def renew_lease(item_id: int, owner: str, seconds: float | None = None) -> bool:
    """Push the lease of ``owner`` on the item ``seconds`` (default: the lease time) ahead;
    ``False`` if ``owner`` no longer holds it."""
    return bool(
        MediaItem.objects.filter(
            pk=item_id, status=MediaItem.Status.PROCESSING, lease_owner=owner
        ).update(lease_expires=lease_until(seconds))
    )


def record_analysis(
    item_id: int,
    analysis: Analysis,
    timings: Mapping[str, float] | None = None,
    versions: Mapping[str, Any] | None = None,
) -> bool:
    """Store tags, the semantic profile and the moderation flags of one analysis, and the
    ``versions`` that made it, and, in the same transaction, ask for its indexing. ``False``
    if the item is gone."""
    with transaction.atomic():
        item = MediaItem.objects.select_for_update().filter(pk=item_id).first()
        if item is None:
            return False
        persistence.store_analysis(item, analysis, timings or {})
        # a re-analysis updates the flags and keeps the decisions (moderation.storing)
        moderation_storing.store_item_flags(item, analysis.flags)
        # The lease now covers the indexing: if no index task completes within it, the
        # reaper sends the indexing again (not the analysis).
        item.lease_owner, item.lease_expires = index_owner(item_id), lease_until()
        item.save(update_fields=[*LEASE_FIELDS, *_version_fields(item, versions)])
        outbox.enqueue(INDEX_TASK, item_id)
    return True


def record_video_analysis(
    item_id: int,
    timings: Mapping[str, float] | None = None,
    versions: Mapping[str, Any] | None = None,
) -> bool:
    """A video's stages are stored as they run (``media.video_work``); this closes them:
    timings, progress, the ``versions`` that made them, its windows' policy hits merged into
    flags (time ranges), and its indexing asked for in the same transaction."""
    with transaction.atomic():
        item = MediaItem.objects.select_for_update().filter(pk=item_id).first()
        if item is None:
            return False
        moderation_storing.store_video_flags(item)
        item.timings = {**item.timings, **dict(timings or {})}
        item.progress = {}
        item.lease_owner, item.lease_expires = index_owner(item_id), lease_until()
        fields = ["timings", "progress", *LEASE_FIELDS, *_version_fields(item, versions)]
        item.save(update_fields=[*fields, "updated"])
        outbox.enqueue(INDEX_TASK, item_id)
    return True


def index_owner(item_id: int) -> str:
    return f"index:{item_id}"


def mark_indexed(item_id: int, timings: Mapping[str, float] | None = None) -> None:
    with transaction.atomic():
        item = MediaItem.objects.select_for_update().filter(pk=item_id).first()
        if item is None:
            return
        item.status = MediaItem.Status.READY
        item.failure_reason = ""
        item.needs_reindex = False
        item.lease_owner, item.lease_expires = "", None
        item.timings = {**item.timings, **dict(timings or {})}
        item.save(
            update_fields=[
                "status",
                "failure_reason",
                "needs_reindex",
                *LEASE_FIELDS,
                "timings",
                "updated",
            ]
        )


def mark_failed(item_id: int, reason: str, owner: str | None = None) -> None:
    """Record why an item could not be processed; it can then be retried. With ``owner``,
    only while that task holds its lease."""
    rows = MediaItem.objects.filter(pk=item_id)
    if owner is not None:
        rows = rows.filter(status=MediaItem.Status.PROCESSING, lease_owner=owner)
    rows.update(
        status=MediaItem.Status.FAILED,
        failure_reason=reason[:MAX_REASON],
        lease_owner="",
        lease_expires=None,
        updated=timezone.now(),
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
