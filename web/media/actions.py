"""Every side-effecting write on media lives here; views and tasks stay thin.

Uploads are validated before anything touches the disk, stored, written as ``queued`` and
handed to the worker only after the transaction commits — by id, never by content.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from functools import partial
from typing import Any

import numpy as np
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from glassbox import imaging, lexical, moderation
from glassbox.config import get_settings
from glassbox.index import IndexRow
from kombu.exceptions import OperationalError as BrokerError

from . import tasks
from .models import MediaItem, SemanticProfile, Tag

logger = logging.getLogger(__name__)

THUMBNAIL_SIDE = 512
MAX_REASON = 500
FORMAT_EXT = {
    "JPEG": "jpg",
    "PNG": "png",
    "WEBP": "webp",
    "GIF": "gif",
    "BMP": "bmp",
    "TIFF": "tif",
}


class ActionNotAllowed(Exception):
    """The item is in a state where this action makes no sense (answered as 409)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def create_media(
    owner, uploaded_file: UploadedFile, title: str = "", visibility: str = "private"
) -> MediaItem:
    """Validate, store and enqueue one upload. Raises ``imaging.InvalidMedia`` when the file
    is unacceptable, in which case nothing is stored."""
    if visibility not in MediaItem.Visibility.values:
        raise ValueError(f"unknown visibility {visibility!r}")
    cfg = get_settings()
    data = _read_at_most(uploaded_file, cfg.max_upload_bytes + 1)
    info = imaging.inspect_upload(data, cfg)
    try:
        thumbnail = imaging.thumbnail_jpeg(imaging.decode_rgb(data), THUMBNAIL_SIDE)
    except (OSError, ValueError, SyntaxError) as exc:
        raise imaging.InvalidMedia("corrupt", "The image data is corrupt.", 400) from exc

    item = MediaItem(
        owner=owner,
        title=_clean_title(title, uploaded_file.name or ""),
        visibility=visibility,
        kind=MediaItem.Kind.IMAGE,
        mime=info.mime,
        width=info.width,
        height=info.height,
        size_bytes=len(data),
        status=MediaItem.Status.QUEUED,
    )
    item.file.save(f"original.{FORMAT_EXT.get(info.format, 'bin')}", ContentFile(data), save=False)
    item.thumbnail.save("thumbnail.jpg", ContentFile(thumbnail), save=False)
    try:
        with transaction.atomic():
            item.save()
            transaction.on_commit(partial(_enqueue_analysis, item.pk))
    except BaseException:
        _delete_files(item)
        raise
    return item


def retry_media(item: MediaItem) -> MediaItem:
    """Queue a failed item for another analysis."""
    with transaction.atomic():
        locked = MediaItem.objects.select_for_update().get(pk=item.pk)
        if locked.status != MediaItem.Status.FAILED:
            raise ActionNotAllowed(
                "not_failed", f"Only failed items can be retried; this one is {locked.status}."
            )
        locked.status = MediaItem.Status.QUEUED
        locked.failure_reason = ""
        locked.save(update_fields=["status", "failure_reason", "updated"])
        transaction.on_commit(partial(_enqueue_analysis, locked.pk))
    return locked


def set_visibility(item: MediaItem, visibility: str) -> MediaItem:
    """Change who may see an item and bring the search index in step (through a task)."""
    if visibility not in MediaItem.Visibility.values:
        raise ValueError(f"unknown visibility {visibility!r}")
    if item.visibility == visibility:
        return item
    with transaction.atomic():
        item.visibility = visibility
        indexed = item.status == MediaItem.Status.READY
        item.needs_reindex = indexed
        item.save(update_fields=["visibility", "needs_reindex", "updated"])
        if indexed:
            transaction.on_commit(partial(_enqueue, tasks.index_media, item.pk))
    return item


def delete_media(item: MediaItem) -> None:
    """Delete the row and its files, then drop it from the search index (through a task)."""
    item_id = item.pk
    with transaction.atomic():
        item.delete()
        transaction.on_commit(partial(_delete_files, item))
        transaction.on_commit(partial(_enqueue, tasks.unindex_media, item_id))


# --- called by the worker -------------------------------------------------------------


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
    item_id: int, analysis: Any, timings: Mapping[str, float] | None = None
) -> bool:
    """Store tags and the semantic profile of one analysis. ``False`` if the item is gone."""
    with transaction.atomic():
        item = MediaItem.objects.select_for_update().filter(pk=item_id).first()
        if item is None:
            return False
        item.tags.all().delete()
        Tag.objects.bulk_create(
            Tag(
                item=item,
                rank=rank,
                concept_id=int(tag.concept_id),
                name=tag.name,
                wnid=tag.wnid or "",
                score=float(tag.score),
                box=list(tag.box) if tag.box is not None else None,
                cam=_as_lists(tag.cam),
                justification=tag.justification or "",
                contributing_concepts=list(getattr(tag, "contributing_concepts", None) or []),
                path=[str(name) for name in getattr(tag, "path", None) or []],
                faithfulness=getattr(tag, "faithfulness", None),
            )
            for rank, tag in enumerate(analysis.tags)
        )
        semantic = analysis.semantic
        SemanticProfile.objects.update_or_create(
            item=item,
            defaults={
                "vector": _float32_bytes(semantic.vector),
                "concept_ids": [int(c) for c in semantic.concept_ids],
                "weights": [float(w) for w in semantic.weights],
                "cams": {str(c): _as_lists(cam) for c, cam in analysis.cams.items()},
                "appearance": _float32_bytes(analysis.appearance),
                "text_terms": [
                    {**term, "weight": float(w)}
                    for term, w in zip(
                        getattr(analysis, "text_terms", []),
                        getattr(semantic, "text_weights", []),
                        strict=True,
                    )
                ],
            },
        )
        item.caption, item.caption_phrases = _caption_fields(getattr(analysis, "caption", None))
        item.text_lines = [_evidence(line, "text") for line in getattr(analysis, "text_lines", [])]
        item.nsfw = [_evidence(found, "label") for found in getattr(analysis, "nsfw", [])]
        item.analyzed_at = timezone.now()
        item.timings = {**dict(analysis.timings), **dict(timings or {})}
        item.save(
            update_fields=[
                "caption",
                "caption_phrases",
                "text_lines",
                "nsfw",
                "analyzed_at",
                "timings",
                "updated",
            ]
        )
    return True


def _evidence(found, name_field: str) -> dict:
    """A read line or a detection as stored JSON: its text or label, box and score."""
    return {
        name_field: str(getattr(found, name_field)),
        "box": [round(float(v), 4) for v in found.box],
        "score": round(float(found.score), 4),
    }


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


# --- helpers --------------------------------------------------------------------------


def _enqueue_analysis(item_id: int) -> None:
    try:
        tasks.analyze_media.delay(item_id)
    except BrokerError:
        logger.exception("could not enqueue analysis of media %s", item_id)
        mark_failed(item_id, "The analysis queue is unavailable; retry later.")


def _enqueue(task: Any, item_id: int) -> None:
    try:
        task.delay(item_id)
    except BrokerError:
        logger.exception("could not enqueue %s for media %s", task.name, item_id)
        MediaItem.objects.filter(pk=item_id).update(needs_reindex=True)


def _read_at_most(uploaded_file: UploadedFile, limit: int) -> bytes:
    uploaded_file.seek(0)
    return uploaded_file.read(limit)


def _clean_title(title: str, filename: str) -> str:
    cleaned = " ".join((title or "").split())
    if not cleaned:
        cleaned = " ".join(os.path.splitext(os.path.basename(filename))[0].split())
    return cleaned[:200]


def _delete_files(item: MediaItem) -> None:
    for field in (item.file, item.thumbnail):
        if field and field.name:
            try:
                field.storage.delete(field.name)
            except OSError:
                logger.warning("could not delete %s", field.name, exc_info=True)


def _caption_fields(caption: Any) -> tuple[str, list[dict[str, Any]]]:
    """``(text, phrases)`` to store from a ``glassbox.caption.Caption`` (or nothing)."""
    if caption is None:
        return "", []
    data = caption.as_dict()
    return str(data["text"]), list(data["phrases"])


def _float32_bytes(values: Any) -> bytes:
    return np.asarray(values, dtype="<f4").tobytes()


def _as_lists(cam: Any) -> list[list[float]]:
    return [[float(v) for v in row] for row in cam]


def index_row(item: MediaItem, bank=None) -> IndexRow:
    """The Milvus row of an analysed item (it must have a profile): the database is the
    source of truth for every field. Its tags are stored with every broader concept above
    them, so a tag filter on "dog" finds an item tagged "Eskimo dog"."""
    if bank is None:
        from glassbox_web import runtime

        bank = runtime.concept_bank()
    cfg = get_settings()
    tag_ids = [int(t.concept_id) for t in item.tags.all()]
    tags = list(tag_ids)
    for cid in tag_ids:
        if cid < len(bank):
            tags += bank.ancestors(cid)
    profile = item.profile
    appearance = profile.appearance_array()
    return IndexRow(
        id=item.pk,
        vector=profile.vector_array(),
        owner_id=item.owner_id,
        is_public=item.is_public,
        kind=item.kind,
        created=int(item.created.timestamp()),
        appearance=appearance if appearance.size else None,
        flagged=moderation.is_flagged(item.nsfw or [], cfg.nsfw_threshold),
        tags=tags,
        caption=lexical.index_text(item.caption or ""),
        ocr=lexical.index_text(
            "\n".join(str(line.get("text", "")) for line in item.text_lines or [])
        ),
    )


def reindex(index, batch_size: int = 500, progress=None) -> int:
    """Rebuild ``index`` from the database: drop it, create it, upsert every analysed item in
    batches, flush. The result depends only on the database, so running it twice gives the
    same index. ``progress(done, total)`` is called after each batch. Returns the count."""
    items = (
        MediaItem.objects.filter(profile__isnull=False)
        .select_related("profile")
        .prefetch_related("tags")
        .order_by("pk")
    )
    total = items.count()
    index.drop()
    index.ensure()
    done = 0
    for start in range(0, total, batch_size):
        chunk = list(items[start : start + batch_size])
        index.upsert([index_row(item) for item in chunk])
        MediaItem.objects.filter(pk__in=[i.pk for i in chunk], needs_reindex=True).update(
            needs_reindex=False
        )
        done += len(chunk)
        if progress is not None:
            progress(done, total)
    index.flush()
    return done
