"""What an operator does from the dashboard: retry failed items in bulk."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from media.actions import commands
from media.actions.commands import ActionNotAllowed
from media.models import MediaItem

logger = logging.getLogger(__name__)

MAX_RETRY = 500


def retry_failed(
    user, ids: Iterable[int] | None = None, reason: str | None = None
) -> tuple[list[int], list[int]]:
    """Queue again the failed items among ``ids``, or every failed item whose reason is
    ``reason`` (at most ``MAX_RETRY`` a call). Returns (retried ids, skipped ids: not failed
    any more, or gone)."""
    if (ids is None) == (reason is None):
        raise ValueError("give the item ids or a failure reason, not both")
    if ids is not None:
        wanted = sorted({int(i) for i in ids})[:MAX_RETRY]
        rows = MediaItem.objects.filter(pk__in=wanted)
    else:
        stored = "" if reason == "(no reason recorded)" else reason
        rows = MediaItem.objects.filter(status=MediaItem.Status.FAILED, failure_reason=stored)
        wanted = list(rows.order_by("id").values_list("id", flat=True)[:MAX_RETRY])
        rows = MediaItem.objects.filter(pk__in=wanted)
    retried: list[int] = []
    for item in rows.order_by("id"):
        try:
            commands.retry_media(item)
        except ActionNotAllowed:
            continue
        retried.append(item.pk)
    skipped = [i for i in wanted if i not in set(retried)]
    logger.info(
        "bulk retry", extra={"user_id": user.pk, "retried": len(retried), "skipped": len(skipped)}
    )
    return retried, skipped
