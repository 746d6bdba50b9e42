"""Worker tasks: analyse an item, then index it; reprocess an item analysed by older
versions. Ids in, domain logic in ``glassbox``.

:class:`MediaJob` owns the life-cycle: retry with backoff while Triton, Milvus or the
database is unavailable (the item's lease is stretched over each wait), and on a final
failure record a reason that names the step and the service, so no item stays
``processing``. Each task is idempotent: it reads the item's state and writes by its primary
key, so a message delivered twice (the outbox, the reaper and the broker all deliver at least
once) does no harm.
"""

from __future__ import annotations

import logging
import time

from celery import Task, shared_task
from django import db
from django.conf import settings
from glassbox.analysis import pipeline
from glassbox.analysis.version import fingerprint
from glassbox.clients.milvus.errors import IndexUnavailable
from glassbox.clients.triton import InferenceError, InferenceUnavailable
from glassbox.config import get_settings
from glassbox.media.imaging import InvalidMedia
from glassbox.media.video import VideoDecodeError
from glassbox_web import runtime
from moderation import active as moderation_policies

from . import leases, reprocess, video_work
from .actions import lifecycle
from .indexing import index_rows
from .models import MediaItem

logger = logging.getLogger(__name__)

TRANSIENT = (InferenceUnavailable, IndexUnavailable, db.OperationalError, db.InterfaceError)


def failure_reason(exc: BaseException, step: str = "Analysis", tries: int | None = None) -> str:
    """Why ``step`` failed, naming the service; ``tries`` when it was retried that often."""
    if isinstance(exc, InvalidMedia):
        return exc.detail
    if isinstance(exc, VideoDecodeError):
        return f"{exc} Upload the file again, or a re-encoded copy."
    if isinstance(exc, InferenceError):
        return f"{step} failed: the inference service (Triton) rejected the image: {exc}"
    after = f" after {tries} tries" if tries else ""
    if isinstance(exc, InferenceUnavailable):
        return f"{step} failed: the inference service (Triton) was unavailable{after}; retry later."
    if isinstance(exc, IndexUnavailable):
        return f"{step} failed: the search index (Milvus) was unavailable{after}; retry later."
    if isinstance(exc, (db.OperationalError, db.InterfaceError)):
        return f"{step} failed: the database was unavailable{after}; retry later."
    # Celery may hand on_failure a wrapper for exceptions it cannot pickle; name the original.
    name = getattr(exc, "exc_cls_name", None) or type(exc).__name__
    return f"{step} failed: internal error ({name})."


def _ms(seconds: float) -> float:
    return round(seconds * 1000.0, 2)


class MediaJob(Task):
    step = "Analysis"
    # A database that is down or locked is as transient as Triton or Milvus being down.
    autoretry_for = TRANSIENT
    retry_backoff = 2
    retry_backoff_max = settings.MEDIA_TASK_RETRY_BACKOFF_MAX_S
    retry_jitter = True
    max_retries = settings.MEDIA_TASK_MAX_RETRIES
    acks_late = True

    def on_retry(self, exc, task_id, args, kwargs, einfo) -> None:
        # The retry waits at most the backoff (with jitter, less): the lease must outlast it,
        # or the reaper would take the item from a worker that is only waiting.
        wait = min(self.retry_backoff_max, self.retry_backoff * 2**self.request.retries)
        try:
            self.stretch_lease(args[0], task_id, wait + lifecycle.lease_s())
        except db.Error:
            logger.warning("media %s: could not stretch its lease", args[0], exc_info=True)

    def on_failure(self, exc, task_id, args, kwargs, einfo) -> None:
        logger.error("%s failed for media %s: %r", self.name, args[0], exc)
        tries = self.request.retries + 1 if isinstance(exc, TRANSIENT) else None
        self.record_failure(args[0], failure_reason(exc, self.step, tries))

    def stretch_lease(self, item_id: int, task_id: str, seconds: float) -> None:
        lifecycle.renew_lease(item_id, task_id, seconds)

    def record_failure(self, item_id: int, reason: str) -> None:
        lifecycle.mark_failed(item_id, reason)


class IndexJob(MediaJob):
    step = "Indexing"

    def stretch_lease(self, item_id: int, task_id: str, seconds: float) -> None:
        lifecycle.renew_lease(item_id, lifecycle.index_owner(item_id), seconds)

    def record_failure(self, item_id: int, reason: str) -> None:
        lifecycle.mark_index_failed(item_id, reason)


class ReprocessJob(MediaJob):
    """A reprocess holds its lease as ``reprocess:<task id>`` (``lifecycle.reprocess_owner``);
    a final failure fails the item it claimed, as an analysis would (it can be retried)."""

    step = "Reprocessing"

    def stretch_lease(self, item_id: int, task_id: str, seconds: float) -> None:
        lifecycle.renew_lease(item_id, lifecycle.reprocess_owner(task_id), seconds)

    def on_failure(self, exc, task_id, args, kwargs, einfo) -> None:
        # only an item this task claimed fails: one it never took stays ready, as it was
        logger.error("%s failed for media %s: %r", self.name, args[0], exc)
        tries = self.request.retries + 1 if isinstance(exc, TRANSIENT) else None
        lifecycle.mark_failed(
            args[0], failure_reason(exc, self.step, tries), owner=lifecycle.reprocess_owner(task_id)
        )


class UnindexJob(MediaJob):
    step = "Removal from the index"

    def stretch_lease(self, item_id: int, task_id: str, seconds: float) -> None:
        pass  # the row is gone

    def record_failure(self, item_id: int, reason: str) -> None:
        pass  # the row is gone: the reconciler removes the vector once Milvus answers


@shared_task(base=MediaJob, bind=True, name=lifecycle.ANALYZE_TASK)
def analyze_media(self, item_id: int) -> None:
    started = time.perf_counter()
    owner = self.request.id or f"local:{item_id}"
    item = lifecycle.begin_analysis(item_id, owner)
    if item is None:
        return
    # the versions are read once the models have answered (Triton down -> a retry, under the
    # item's lease, like any other call to Triton)
    _analyze(item, owner, None, started)


@shared_task(base=ReprocessJob, bind=True, name=lifecycle.REPROCESS_TASK)
def reprocess_media(self, item_id: int) -> None:
    """Bring a ready item analysed by older versions to the current ones: the same analysis
    and recording path as an upload, so its flags keep their decisions
    (``moderation.storing``), and its title and visibility are untouched."""
    started = time.perf_counter()
    owner = lifecycle.reprocess_owner(self.request.id or f"local:{item_id}")
    versions = reprocess.current_versions()
    item = lifecycle.begin_reprocess(item_id, owner, fingerprint(versions))
    if item is None:
        return  # up to date already, not ready (being analysed, failed), or gone
    _analyze(item, owner, versions, started)


def _analyze(item: MediaItem, owner: str, versions: dict | None, started: float) -> None:
    """Analyse a claimed item under ``owner``'s lease and record it with ``versions``
    (``None``: the current ones, read after the analysis)."""
    item_id = item.pk
    with leases.held(item_id, owner):
        if item.is_video:
            _analyze_video(item, versions)
            return
        with item.file.open("rb") as fh:
            data = fh.read()
        fetched = time.perf_counter()
        client, bank = runtime.inference_client(), runtime.concept_bank()
        policies = moderation_policies.policies_active()  # as the admin left them
        try:
            analysis = pipeline.analyze(data, client, bank, get_settings(), policies=policies)
        except (InvalidMedia, InferenceError) as exc:  # final: retrying cannot help
            logger.warning("media %s cannot be analysed: %s", item_id, exc)
            lifecycle.mark_failed(item_id, failure_reason(exc))
            return
        analysed = time.perf_counter()
        phases = {"fetch_ms": _ms(fetched - started), "pipeline_ms": _ms(analysed - fetched)}
        versions = versions or reprocess.current_versions()
        # Stores the analysis and asks for its indexing in one transaction: a broker that
        # is down cannot fail an analysis that finished (the outbox sends it later).
        if not lifecycle.record_analysis(item_id, analysis, phases, versions):
            return
    logger.info(
        "media %s analysed: %s (store %.0f ms; pipeline: %s)",
        item_id,
        phases,
        _ms(time.perf_counter() - analysed),
        analysis.timings,
    )


def _analyze_video(item: MediaItem, versions: dict | None) -> None:
    """The video's stages (``media.video_work``), resumed from the last checkpoint; progress
    is written to the item as each keyframe finishes."""
    started = time.perf_counter()
    client, bank = runtime.inference_client(), runtime.concept_bank()

    def progress(stage: str, done: int, total: int) -> None:
        MediaItem.objects.filter(pk=item.pk).update(
            progress={"stage": stage, "done": done, "total": total}
        )

    try:
        video_work.analyze_video(item, client, bank, get_settings(), progress)
    except (InvalidMedia, InferenceError, VideoDecodeError) as exc:  # final
        logger.warning("video %s cannot be analysed: %s", item.pk, exc)
        lifecycle.mark_failed(item.pk, failure_reason(exc))
        return
    phases = {"pipeline_ms": _ms(time.perf_counter() - started)}
    versions = versions or reprocess.current_versions()
    lifecycle.record_video_analysis(item.pk, phases, versions)
    logger.info("video %s analysed: %s", item.pk, phases)


@shared_task(base=IndexJob, name=lifecycle.INDEX_TASK)
def index_media(item_id: int) -> None:
    started = time.perf_counter()
    item = (
        MediaItem.objects.select_related("profile")
        .prefetch_related("tags")
        .filter(pk=item_id)
        .first()
    )
    if item is None or not hasattr(item, "profile") or item.status == MediaItem.Status.FAILED:
        return
    rows = index_rows(item)
    index = runtime.media_index()
    index.upsert(rows)
    if item.is_video:  # a re-analysis that found fewer shots leaves no stale shot row
        index.delete_shots_from(item_id, len(rows) - 1)
    elapsed = {"index_ms": _ms(time.perf_counter() - started)}
    lifecycle.mark_indexed(item_id, elapsed)
    logger.info("media %s indexed: %s", item_id, elapsed)


@shared_task(base=UnindexJob, name=lifecycle.UNINDEX_TASK)
def unindex_media(item_id: int) -> None:
    if MediaItem.objects.filter(pk=item_id).exists():
        return  # not deleted after all (a stale message): nothing to remove
    runtime.media_index().delete([item_id])
