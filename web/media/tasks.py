"""Worker tasks: analyse an item, then index it. Ids in, domain logic in ``glassbox``.

:class:`MediaJob` owns the life-cycle: retry with backoff while Triton or Milvus is
unavailable, and on any final failure record a short reason so no item stays ``processing``.
"""

from __future__ import annotations

import logging
import time

from celery import Task, shared_task
from django import db
from django.conf import settings
from glassbox.analysis import pipeline
from glassbox.clients.milvus.errors import IndexUnavailable
from glassbox.clients.triton import InferenceError, InferenceUnavailable
from glassbox.config import get_settings
from glassbox.media.imaging import InvalidMedia
from glassbox_web import queue, runtime

from .actions import lifecycle
from .indexing import index_row
from .models import MediaItem

logger = logging.getLogger(__name__)


def failure_reason(exc: BaseException) -> str:
    if isinstance(exc, InvalidMedia):
        return exc.detail
    if isinstance(exc, InferenceError):
        return f"The inference service rejected the image: {exc}"
    if isinstance(exc, InferenceUnavailable):
        return "The inference service was unavailable; retry later."
    if isinstance(exc, IndexUnavailable):
        return "The search index was unavailable; retry later."
    if isinstance(exc, (db.OperationalError, db.InterfaceError)):
        return "The database was unavailable; retry later."
    # Celery may hand on_failure a wrapper for exceptions it cannot pickle; name the original.
    name = getattr(exc, "exc_cls_name", None) or type(exc).__name__
    return f"Internal error during analysis ({name})."


def _ms(seconds: float) -> float:
    return round(seconds * 1000.0, 2)


class MediaJob(Task):
    # A database that is down or locked is as transient as Triton or Milvus being down.
    autoretry_for = (InferenceUnavailable, IndexUnavailable, db.OperationalError, db.InterfaceError)
    retry_backoff = 2
    retry_backoff_max = settings.MEDIA_TASK_RETRY_BACKOFF_MAX_S
    retry_jitter = True
    max_retries = settings.MEDIA_TASK_MAX_RETRIES
    acks_late = True

    def on_failure(self, exc, task_id, args, kwargs, einfo) -> None:
        logger.error("%s failed for media %s: %r", self.name, args[0], exc)
        self.record_failure(args[0], failure_reason(exc))

    def record_failure(self, item_id: int, reason: str) -> None:
        lifecycle.mark_failed(item_id, reason)


class IndexJob(MediaJob):
    def record_failure(self, item_id: int, reason: str) -> None:
        lifecycle.mark_index_failed(item_id, reason)


class UnindexJob(MediaJob):
    def record_failure(self, item_id: int, reason: str) -> None:
        pass  # the row is gone; search hydration already hides a stale vector


@shared_task(base=MediaJob, name=lifecycle.ANALYZE_TASK)
def analyze_media(item_id: int) -> None:
    started = time.perf_counter()
    item = lifecycle.begin_analysis(item_id)
    if item is None:
        return
    with item.file.open("rb") as fh:
        data = fh.read()
    fetched = time.perf_counter()
    client, bank = runtime.inference_client(), runtime.concept_bank()
    try:
        analysis = pipeline.analyze(data, client, bank, get_settings())
    except (InvalidMedia, InferenceError) as exc:  # final: retrying cannot help
        logger.warning("media %s cannot be analysed: %s", item_id, exc)
        lifecycle.mark_failed(item_id, failure_reason(exc))
        return
    analysed = time.perf_counter()
    phases = {"fetch_ms": _ms(fetched - started), "pipeline_ms": _ms(analysed - fetched)}
    if not lifecycle.record_analysis(item_id, analysis, phases):
        return
    phases["store_ms"] = _ms(time.perf_counter() - analysed)
    logger.info("media %s analysed: %s (pipeline: %s)", item_id, phases, analysis.timings)
    queue.send(lifecycle.INDEX_TASK, item_id)


@shared_task(base=IndexJob, name=lifecycle.INDEX_TASK)
def index_media(item_id: int) -> None:
    started = time.perf_counter()
    item = MediaItem.objects.select_related("profile").filter(pk=item_id).first()
    if item is None or not hasattr(item, "profile"):
        return
    runtime.media_index().upsert([index_row(item)])
    elapsed = {"index_ms": _ms(time.perf_counter() - started)}
    lifecycle.mark_indexed(item_id, elapsed)
    logger.info("media %s indexed: %s", item_id, elapsed)


@shared_task(base=UnindexJob, name=lifecycle.UNINDEX_TASK)
def unindex_media(item_id: int) -> None:
    runtime.media_index().delete([item_id])
